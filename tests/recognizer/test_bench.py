"""`alpr bench recognizer` end to end at a tiny size (the figures live in docs/benchmarks.md)."""

from __future__ import annotations

import socket

import pytest

from alpr.errors import BrokerError
from alpr_app.bench.recognizer import run_bench


@pytest.mark.kafka
def test_bench_drains_every_frame_through_one_replica(bootstrap):
    result = run_bench(bootstrap, frames=12, batch=4, device="cpu", progress=lambda _: None)
    assert result["frames"] == 12 and result["device"] == "cpu"
    assert result["frames_per_s"] > 0 and result["inference_ms_per_frame"] > 0
    assert 0 < result["batch_ms_p50"] <= result["batch_ms_p99"]
    # The configured default backends, named by their files' hashes.
    assert result["reader"].startswith("fallback(cct_xs_v2_global@") and "|crnn-ctc@" in result["reader"]
    assert result["detector"].startswith("cascade(yolov8n-plates-onnx@")


def test_bench_without_a_broker_says_so():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BrokerError, match=f"cannot reach Kafka at 127.0.0.1:{port}"):
        run_bench(f"127.0.0.1:{port}", frames=4, progress=lambda _: None)
