"""The recognizer's consumer plumbing against the real broker, with stub models.

Recognition itself is tested with the real weights in tests/models/ and
tests/recognizer/test_replicas.py; here a stub detector/reader makes the outcome of each
frame predictable, so the test is about batching, DLQ, ids and commits.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from confluent_kafka import Producer
from prometheus_client import REGISTRY

from alpr.contracts.models import FrameHeaders, ModelVersions, utc_iso
from alpr.contracts.registry import Topic
from alpr.kafka.config import client_config
from services.recognizer.frames import in_lane, reads_for_frame
from services.recognizer.main import build_consumer
from services.recognizer.models import Recognizer
from services.recognizer.models.protocols import Detection, PlateRead, TextRead
from services.recognizer.settings import RecognizerSettings
from tests.support.frames import frame_message
from tests.support.kafka import committed, drain


class StubDetector:
    """A 'plate' wherever the frame has a white box: one per white 100x50 rectangle."""

    name = "stub-detector"

    def detect(self, images):
        out = []
        for img in images:
            mask = (img.min(axis=2) > 250).astype(np.uint8)
            n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
            out.append([Detection((int(x), int(y), int(w), int(h)), 0.9) for x, y, w, h, a in stats[1:] if a > 1000])
        return out

    def warmup(self):
        pass


class StubReader:
    """Reads the plate text from the crop's width (frames are drawn so that it is known)."""

    name = "stub-reader"

    def read(self, crops):
        return [TextRead(f"TEST{c.shape[1]:03d}", 0.99, (0.99,) * 7) for c in crops]

    def warmup(self):
        pass


def test_reads_have_deterministic_ids_and_account_for_every_frame():
    meta = FrameHeaders(
        frame_id="cam:1",
        camera_id="cam",
        facility_id="f",
        lane="L1",
        direction="exit",
        captured_at=datetime.now(UTC),
        ingested_at=datetime.now(UTC),
    )
    models = ModelVersions(detector="d", reader="r")
    now = datetime.now(UTC)
    crop = np.full((20, 60, 3), 200, np.uint8)
    none = reads_for_frame(meta, [], models, now, 0.5, 85)
    assert [(r.read_id, r.outcome, r.plate) for r in none] == [("cam:1#-", "no_plate", None)]
    plates = [
        PlateRead("8ABC123", 0.93, (0.93,) * 7, (1, 2, 60, 20), crop, 0.8),
        PlateRead("8ABC12", 0.2, (0.2,) * 6, (100, 2, 60, 20), crop, 0.7),
    ]
    reads = reads_for_frame(meta, plates, models, now, 0.5, 85)
    assert [(r.read_id, r.outcome, r.plate) for r in reads] == [
        ("cam:1#0", "read", "8ABC123"),
        ("cam:1#1", "unreadable", None),
    ]
    assert reads[0].crop_jpeg_b64 and reads[0].bbox.w == 60
    assert reads_for_frame(meta, plates, models, now, 0.5, 85) == reads  # same input, same messages
    # A box read confidently as a too-short text is no plate; an unconfident one stays 'unreadable'.
    junk = [
        PlateRead("PP", 0.8, (0.8, 0.8), (5, 5, 40, 20), crop, 0.8),
        PlateRead("0", 0.2, (0.2,), (50, 5, 40, 20), crop, 0.4),
    ]
    assert [(r.read_id, r.outcome) for r in reads_for_frame(meta, junk, models, now, 0.5, 85)] == [
        ("cam:1#0", "unreadable")
    ]
    assert [r.outcome for r in reads_for_frame(meta, junk[:1], models, now, 0.5, 85)] == ["no_plate"]
    assert [r.outcome for r in reads_for_frame(meta, junk[:1], models, now, 0.5, 85, min_plate_chars=2)] == ["read"]
    # A box at the frame's border is a cut-off plate: its confident text is a fragment, and
    # even a too-short one stays as 'unreadable' (a box was there). Unknown distance: read.
    edge = [
        PlateRead("TEMPORAR", 0.9, (0.9,) * 8, (600, 0, 190, 32), crop, 0.8, border_px=0),
        PlateRead("PP", 0.9, (0.9,) * 2, (600, 680, 190, 38), crop, 0.8, border_px=2),
        PlateRead("8ABC123", 0.9, (0.9,) * 7, (600, 300, 190, 60), crop, 0.8, border_px=5),
        PlateRead("7XYZ123", 0.9, (0.9,) * 7, (600, 400, 190, 60), crop, 0.8),
    ]
    got = reads_for_frame(meta, edge, models, now, 0.5, 85, edge_margin_px=4)
    assert [(r.outcome, r.plate) for r in got] == [
        ("unreadable", None),
        ("unreadable", None),
        ("read", "8ABC123"),
        ("read", "7XYZ123"),
    ]
    assert got[0].bbox.y == 0 and got[0].crop_jpeg_b64  # the evidence of the box stays
    got = reads_for_frame(meta, edge, models, now, 0.5, 85, edge_margin_px=-1)
    assert [(r.outcome, r.plate) for r in got] == [("read", "TEMPORAR"), ("read", "8ABC123"), ("read", "7XYZ123")]


@pytest.mark.kafka
def test_plates_outside_the_cameras_region_are_not_read():
    # The lane is the lower half of a 1280x720 view; a sign on the wall above reads 'PARKING'.
    now = datetime.now(UTC)
    meta = FrameHeaders(
        frame_id="cam:2",
        camera_id="cam",
        facility_id="f",
        lane="L1",
        direction="entry",
        captured_at=now,
        ingested_at=now,
        roi="0,360 1280,360 1280,720 0,720",
    )
    models = ModelVersions(detector="d", reader="r")
    crop = np.full((20, 60, 3), 200, np.uint8)
    sign = PlateRead("PARKING", 1.0, (1.0,) * 7, (500, 100, 200, 80), crop, 0.45)
    car = PlateRead("8ABC123", 0.9, (0.9,) * 7, (560, 500, 160, 60), crop, 0.8)
    straddling = PlateRead("7XYZ123", 0.9, (0.9,) * 7, (100, 340, 160, 60), crop, 0.8)  # centre y 370: inside
    assert in_lane(meta, [sign, car, straddling]) == [car, straddling]
    got = reads_for_frame(meta, in_lane(meta, [sign, car, straddling]), models, now, 0.5, 85)
    assert [(r.read_id, r.plate) for r in got] == [("cam:2#0", "8ABC123"), ("cam:2#1", "7XYZ123")]
    assert [(r.read_id, r.outcome) for r in reads_for_frame(meta, in_lane(meta, [sign]), models, now, 0.5, 85)] == [
        ("cam:2#-", "no_plate")
    ]
    whole = meta.model_copy(update={"roi": None})
    assert in_lane(whole, [sign, car]) == [sign, car]


@pytest.mark.parametrize("roi", ["1,2 3,4", "1,2 3,4 5", "-1,2 3,4 5,6", "1,2;3,4;5,6", ""])
def test_a_malformed_region_breaks_the_frames_contract(roi):
    from alpr.contracts.registry import ContractError, Topic, decode

    at = utc_iso(datetime.now(UTC))
    headers = {
        "frame_id": "cam:1",
        "camera_id": "cam",
        "facility_id": "f",
        "lane": "L1",
        "direction": "entry",
        "captured_at": at,
        "ingested_at": at,
        "content_type": "image/jpeg",
    }
    good = [(k, v.encode()) for k, v in headers.items()]
    assert decode(Topic.FRAMES.contract, b"jpeg", good + [("roi", b"1,2 3,4 5,6")]).roi_points() == [
        (1, 2),
        (3, 4),
        (5, 6),
    ]
    with pytest.raises(ContractError, match="roi"):
        decode(Topic.FRAMES.contract, b"jpeg", good + [("roi", roi.encode())])


def test_frames_become_reads_and_bad_frames_go_to_the_dlq(bootstrap, topic_factory, unique):
    frames = topic_factory(Topic.FRAMES, partitions=3)
    reads_topic = topic_factory(Topic.READS)
    dlq = topic_factory(Topic.FRAMES_DLQ)
    prefix = frames[: -len(Topic.FRAMES)]
    producer = Producer(client_config(bootstrap))
    good = {}
    for i in range(12):
        value, headers = frame_message(f"cam-{i % 3}", 1_795_000_000_000 + i, n_plates=i % 4)
        good[f"cam-{i % 3}:{1_795_000_000_000 + i}"] = i % 4
        producer.produce(frames, key=f"cam-{i % 3}", value=value, headers=headers)
    # The camera's region starts below the first of three boxes: two are read, one is left out.
    roi_value, roi_headers = frame_message("cam-roi", 1_795_000_000_600, 3)
    good["cam-roi:1795000000600"] = 2
    producer.produce(
        frames, key="cam-roi", value=roi_value, headers=roi_headers + [("roi", b"0,200 1280,200 1280,720 0,720")]
    )
    outside_before = REGISTRY.get_sample_value("alpr_recognizer_boxes_outside_region_total", {"camera": "cam-roi"}) or 0
    gray_value, gray_headers = frame_message("cam-gray", 1_795_000_000_500, 1, shape=(720, 1280))
    good["cam-gray:1795000000500"] = 1
    producer.produce(frames, key="cam-gray", value=gray_value, headers=gray_headers)
    value, headers = frame_message("cam-bad", 1_795_000_001_000, 1)
    bad = [
        (value[: len(value) // 2], headers),  # truncated JPEG
        (b"GIF89a not a jpeg", headers),  # not an image
        (value, [h for h in headers if h[0] != "facility_id"]),  # breaks the contract
        (value, [(k, b"sideways") if k == "direction" else (k, v) for k, v in headers]),
        (b"", headers),  # zero bytes
    ]
    for v, h in bad:
        producer.produce(frames, key="cam-bad", value=v, headers=h)
    assert producer.flush(30) == 0

    settings = RecognizerSettings(
        kafka_bootstrap=bootstrap, batch_max_frames=4, batch_max_wait_ms=200, environment="test"
    )
    consumer = build_consumer(
        settings, Recognizer(StubDetector(), StubReader()), topic_prefix=prefix, group_id=f"rec-{unique}"
    )
    total = len(good) + len(bad)
    handled = 0
    try:
        for _ in range(100):
            handled += consumer.handle(consumer.poll_batch()).consumed
            if handled >= total:
                break
    finally:
        consumer.close()
    assert handled == total
    assert sum(max(0, o) for o in committed(bootstrap, f"rec-{unique}", frames, 3).values()) == total

    expected_reads = sum(max(1, n) for n in good.values())
    reads = [json.loads(m.value()) for m in drain(bootstrap, reads_topic, expected_reads, f"d-{unique}")]
    by_frame = {}
    for r in reads:
        by_frame.setdefault(r["frame_id"], []).append(r)
    assert set(by_frame) == set(good)
    for frame_id, n in good.items():
        got = sorted(by_frame[frame_id], key=lambda r: r["read_id"])
        if n == 0:
            assert [r["outcome"] for r in got] == ["no_plate"] and got[0]["read_id"] == f"{frame_id}#-"
            assert got[0]["context_jpeg_b64"] is None  # no vehicle to show
        else:
            assert [r["read_id"] for r in got] == [f"{frame_id}#{i}" for i in range(n)]
            assert all(r["plate"].startswith("TEST") and r["models"]["detector"] == "stub-detector" for r in got)
            # The vehicle in view: the whole frame, downscaled to 480 px, on every plate box's read.
            context = cv2.imdecode(
                np.frombuffer(base64.b64decode(got[0]["context_jpeg_b64"]), np.uint8), cv2.IMREAD_COLOR
            )
            assert context.shape[1] == 480 and context.shape[0] == 270, context.shape
            assert len({r["context_jpeg_b64"] for r in got}) == 1
    assert [r["bbox"]["y"] for r in sorted(by_frame["cam-roi:1795000000600"], key=lambda r: r["read_id"])] == [220, 340]
    assert (
        REGISTRY.get_sample_value("alpr_recognizer_boxes_outside_region_total", {"camera": "cam-roi"})
        == outside_before + 1
    )
    dead = drain(bootstrap, dlq, len(bad), f"dlq-{unique}")
    reasons = sorted(dict(m.headers())["dlq.reason"].decode() for m in dead)
    assert len(dead) == len(bad)
    assert any("truncated JPEG" in r for r in reasons) and any("not a JPEG or PNG" in r for r in reasons)
    assert any("facility_id" in r for r in reasons) and any("direction" in r for r in reasons)
