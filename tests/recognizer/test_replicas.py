"""Scaling: two recognizer replicas share the frames; one is SIGKILLed mid-stream; every frame's
reads still arrive (duplicates allowed, with the same read_ids), with the real trained models."""

from __future__ import annotations

import json
import os
import signal
import time

import cv2
import numpy as np
import pytest
from confluent_kafka import Producer

from alpr.contracts.registry import Topic
from alpr.kafka.config import client_config
from alpr_app.demo.stack import Stack
from tests.support.frames import frame_message
from tests.support.kafka import drain
from tests.support.net import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def scene_frames(n: int):
    from alpr.synth.scene import CLEAN, render_scene

    rng = np.random.default_rng(4242)
    out = []
    for i in range(n):
        scene = render_scene(rng, 1280, 720, n_plates=1, conditions=CLEAN)
        ok, buf = cv2.imencode(".jpg", scene.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        _, headers = frame_message(f"cam-{i % 4}", 1_796_000_000_000 + i, 0)
        out.append((f"cam-{i % 4}", buf.tobytes(), headers, scene.plates[0].text))
    return out


def test_killing_a_replica_loses_no_frame(bootstrap, topic_factory, unique, tmp_path):
    frames_topic = topic_factory(Topic.FRAMES, partitions=6)
    reads_topic = topic_factory(Topic.READS)
    topic_factory(Topic.FRAMES_DLQ)
    prefix = frames_topic[: -len(Topic.FRAMES)]
    frames = scene_frames(32)
    env = {
        "ALPR_KAFKA_BOOTSTRAP": bootstrap,
        "ALPR_TOPIC_PREFIX": prefix,
        "ALPR_DATA_DIR": str(tmp_path),
        "ALPR_RECOGNIZER_CONSUMER_GROUP": f"rec-{unique}",
        "ALPR_RECOGNIZER_BATCH_MAX_FRAMES": "4",
        "ALPR_RECOGNIZER_DEVICE": "cpu",
    }
    with Stack(env, tmp_path / "logs") as stack:
        a = stack.start("recognizer-a", free_port(), "recognizer", "serve", timeout=240)
        b = stack.start("recognizer-b", free_port(), "recognizer", "serve", timeout=240)
        producer = Producer(client_config(bootstrap))
        for camera, value, headers, _ in frames:
            producer.produce(frames_topic, key=camera, value=value, headers=headers)
        assert producer.flush(30) == 0

        # Kill replica A as soon as reads are flowing: it dies with a batch in flight and
        # uncommitted offsets, which replica B must take over.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not drain(bootstrap, reads_topic, 1, f"peek-{unique}-{time.monotonic()}"):
            pass
        os.kill(a.proc.pid, signal.SIGKILL)
        a.proc.wait()

        expected = {f"{h[0][1].decode()}" for _, _, h, _ in frames}
        reads = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            reads = [
                json.loads(m.value())
                for m in drain(bootstrap, reads_topic, len(frames) * 2, f"all-{unique}-{time.monotonic()}")
            ]
            if expected <= {r["frame_id"] for r in reads}:
                break
        assert b.proc.poll() is None, "the surviving replica must still run"

    got = {r["frame_id"] for r in reads}
    assert expected <= got, f"frames without reads: {sorted(expected - got)[:5]}"
    # A redelivered frame gives the same read_ids with the same content: duplicates, never
    # conflicting reads, so downstream folding by read_id is exact.
    by_id = {}
    for r in reads:
        assert r["read_id"].startswith(r["frame_id"] + "#")
        by_id.setdefault(r["read_id"], set()).add((r["outcome"], r["plate"]))
    assert all(len(v) == 1 for v in by_id.values()), [k for k, v in by_id.items() if len(v) > 1][:3]
    truth = {h[0][1].decode(): text for _, _, h, text in frames}
    correct = sum(any(r.get("plate") == truth[r["frame_id"]] for r in reads if r["frame_id"] == f) for f in truth)
    assert correct >= 0.9 * len(truth), f"only {correct}/{len(truth)} clean plates read correctly"
