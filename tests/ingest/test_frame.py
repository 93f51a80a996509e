"""A frame's id, headers (the frames contract) and JPEG checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alpr.cameras import Camera
from alpr.contracts.registry import Topic, decode
from services.ingest.frame import BadImage, Frame, FrameTooLarge, check_jpeg, encode_jpeg, epoch_ms, shrink_jpeg
from tests.ingest.conftest import START, jpeg

CAMERA = Camera(camera_id="cam-g1-entry-1", facility_id="garage-1", lane="L1", direction="entry")


def test_headers_satisfy_the_frames_contract_and_the_id_is_deterministic():
    captured = datetime(2026, 11, 26, 6, 30, 0, 123999, tzinfo=UTC)
    frame = Frame(CAMERA, captured, b"\xff\xd8...\xff\xd9")
    headers = decode(Topic.FRAMES.contract, None, frame.headers())
    assert headers.frame_id == "cam-g1-entry-1:1795674600123" == f"cam-g1-entry-1:{epoch_ms(captured)}"
    assert headers.captured_at == captured.replace(microsecond=123000)
    assert (headers.camera_id, headers.facility_id, headers.lane, headers.direction) == (
        "cam-g1-entry-1",
        "garage-1",
        "L1",
        "entry",
    )
    assert frame.key == b"cam-g1-entry-1"
    assert Frame(CAMERA, captured, b"other").frame_id == frame.frame_id  # same capture, same id: redelivery folds
    assert headers.roi is None and all(name != "roi" for name, _ in frame.headers())  # no region: whole frame
    framed = Frame(CAMERA.model_copy(update={"roi": [(0, 300), (1280, 300), (1280, 720), (0, 720)]}), captured, b"x")
    assert decode(Topic.FRAMES.contract, None, framed.headers()).roi_points() == [
        (0, 300),
        (1280, 300),
        (1280, 720),
        (0, 720),
    ]
    # Millisecond arithmetic is exact where float seconds would round (0.1 s steps).
    assert [epoch_ms(START + timedelta(seconds=i / 10)) - epoch_ms(START) for i in range(4)] == [0, 100, 200, 300]


def test_encoding_steps_quality_down_to_fit_and_refuses_what_cannot_fit():
    noisy = np.random.default_rng(1).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    full = encode_jpeg(noisy, 95, 8 * 1024 * 1024)
    fitted = encode_jpeg(noisy, 95, len(full) // 2)
    assert len(fitted) <= len(full) // 2
    with pytest.raises(FrameTooLarge):
        encode_jpeg(noisy, 95, 2000)
    assert shrink_jpeg(full, 85, len(full)) is full  # an upload that fits is published untouched
    assert len(shrink_jpeg(full, 85, len(full) // 2)) <= len(full) // 2


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"GIF89a not a jpeg", "not a JPEG"),
        (jpeg()[:-2000], "truncated JPEG"),
        (b"\xff\xd8" + b"\x00" * 500 + b"\xff\xd9", "corrupt JPEG"),
    ],
)
def test_bad_jpegs_are_named(body, reason):
    with pytest.raises(BadImage, match=reason):
        check_jpeg(body)
    assert check_jpeg(jpeg()).shape == (23, 40)  # a good one decodes, at 1/8 scale
