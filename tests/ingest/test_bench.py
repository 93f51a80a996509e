"""The ingest benchmark and the small commands run end to end (tiny sizes: the figures live in docs)."""

from __future__ import annotations

import json

import pytest

from alpr.cameras import hash_token
from alpr_app.bench.ingest import run_bench
from tests.conftest import run_cli
from tests.ingest.conftest import settings


@pytest.mark.kafka
def test_bench_publishes_every_frame_and_reports_rates(bootstrap):
    result = run_bench(bootstrap, frames=100, settings=settings(bootstrap))
    for name in ("publish", "encode_and_publish", "upload"):
        assert result[name]["frames_per_s"] > 0, result
    assert result["publish"]["failed"] == result["encode_and_publish"]["failed"] == 0
    assert result["upload"]["status_codes"] == {201: 100}
    assert result["publish"]["mean_jpeg_kb"] > 10  # a real-looking 1280x720 picture, not a flat card


def test_camera_token_and_demo_footage_commands(tmp_path):
    made = run_cli("ingest", "camera-token", "--json")
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)
    assert hash_token(token["token"]) == token["upload_token_sha256"]

    out = run_cli(
        "demo-footage",
        "--out",
        str(tmp_path),
        "--vehicles",
        "3",
        "--minutes",
        "0.25",
        "--width",
        "320",
        "--height",
        "180",
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["frames"] == 120 and summary["passes"] >= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cam-g1-entry-1.mp4",
        "cam-g1-exit-1.mp4",
        "ground_truth.jsonl",
    ]
    bad = run_cli("demo-footage", "--out", str(tmp_path), "--start", "06:00")
    assert bad.returncode == 2 and "RFC 3339" in bad.stderr
