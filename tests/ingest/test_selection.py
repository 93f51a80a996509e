"""Frame selection: the fps cap, the motion gate with its hold, and the region of interest."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from alpr.cameras import Camera
from services.ingest.selection import Selector
from tests.ingest.conftest import START


def camera(**fields) -> Camera:
    return Camera(camera_id="c1", facility_id="g1", lane="L1", direction="entry", **fields)


def picture(x: int | None, y: int = 100) -> np.ndarray:
    img = np.full((360, 640, 3), 80, np.uint8)
    if x is not None:
        img[y : y + 60, x : x + 80] = 230
    return img


def test_fps_cap_keeps_the_configured_rate():
    selector = Selector(camera(fps_cap=5), motion_threshold=0)
    outcomes = [selector.consider(START + timedelta(seconds=i / 30), picture(None)) for i in range(90)]  # 3 s at 30 fps
    assert outcomes.count("selected") == 15 and outcomes.count("skipped_fps") == 75


def test_still_frames_are_skipped_after_the_hold_and_motion_is_sent():
    selector = Selector(camera(fps_cap=4), motion_threshold=0.002, hold_s=1.0)
    t = lambda i: START + timedelta(seconds=i / 4)  # noqa: E731
    empty = [selector.consider(t(i), picture(None)) for i in range(8)]
    assert empty[0] == "selected" and set(empty[1:]) == {"skipped_still"}  # first picture, then an empty lane
    moving = [selector.consider(t(8 + i), picture(20 + 60 * i)) for i in range(6)]
    assert set(moving) == {"selected"}
    # The vehicle stops at the barrier: frames keep flowing for the hold (1 s = 4 frames), then stop.
    stopped = [selector.consider(t(14 + i), picture(20 + 60 * 5)) for i in range(8)]
    assert stopped[:4] == ["selected"] * 4 and set(stopped[5:]) == {"skipped_still"}


def test_global_light_drift_is_not_motion():
    selector = Selector(camera(fps_cap=4), motion_threshold=0.002, hold_s=0)
    frames = [np.clip(picture(300).astype(int) + i, 0, 255).astype(np.uint8) for i in range(10)]  # +1 level per frame
    outcomes = [selector.consider(START + timedelta(seconds=i / 4), f) for i, f in enumerate(frames)]
    assert outcomes[0] == "selected" and set(outcomes[1:]) == {"skipped_still"}


def test_motion_outside_the_region_of_interest_is_ignored():
    roi = [(0, 200), (640, 200), (640, 360), (0, 360)]  # the lower part of the picture only
    selector = Selector(camera(fps_cap=4, roi=roi), motion_threshold=0.002, hold_s=0)
    t = lambda i: START + timedelta(seconds=i / 4)  # noqa: E731
    assert selector.consider(t(0), picture(None)) == "selected"
    above = [selector.consider(t(1 + i), picture(40 * i, y=40)) for i in range(5)]  # moving in the sky/wall
    assert set(above) == {"skipped_still"}
    inside = [selector.consider(t(6 + i), picture(40 * i, y=260)) for i in range(3)]
    assert set(inside) == {"selected"}
