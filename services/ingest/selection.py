"""Which frames are worth a recognizer's time: an fps cap, then motion inside the region of interest.

An empty lane at 25 fps would flood the recognizer with identical pictures. The cap comes
first (free), then cheap frame differencing on a downscaled, blurred gray image masked by the
camera's ROI polygon. A vehicle that stops at the barrier stops "moving", yet that is the best
moment to read its plate, so frames keep flowing for `hold_s` after the last motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import cv2
import numpy as np

from alpr.cameras import Camera

Outcome = Literal["selected", "skipped_fps", "skipped_still"]

SMALL_WIDTH = 160  # enough to see a car, ~0.1 ms of arithmetic per frame
PIXEL_DELTA = 25  # gray levels a pixel must change by; sensor noise after the blur stays below
CAP_SLACK_S = 0.0005  # timestamps of a 4 fps file are 0.25 s apart give or take rounding


@dataclass
class Selector:
    """Frame selection for one camera; `consider` is called once per frame seen, in capture order."""

    camera: Camera
    motion_threshold: float = 0.002
    hold_s: float = 2.0

    def __post_init__(self) -> None:
        self._min_interval_s = 1.0 / self.camera.fps_cap
        self._last_selected: datetime | None = None
        self._last_motion: datetime | None = None
        self._previous: np.ndarray | None = None
        self._mask: np.ndarray | None = None

    def consider(self, captured_at: datetime, image: np.ndarray) -> Outcome:
        """Decide for a BGR or gray frame; the decision updates the selector's state."""
        if self._last_selected is not None:
            if (captured_at - self._last_selected).total_seconds() < self._min_interval_s - CAP_SLACK_S:
                return "skipped_fps"
        if self.motion_threshold > 0 and not self._moving(captured_at, image):
            return "skipped_still"
        self._last_selected = captured_at
        return "selected"

    def _moving(self, captured_at: datetime, image: np.ndarray) -> bool:
        small = small_gray(image)
        previous, self._previous = self._previous, small
        if previous is None or previous.shape != small.shape:
            return True  # first picture (or a resolution change): send it, but it is no motion to hold for
        if self._mask is None or self._mask.shape != small.shape:
            self._mask = roi_mask(self.camera.roi, image.shape[1], image.shape[0], small.shape)
        changed = (cv2.absdiff(previous, small) > PIXEL_DELTA) & self._mask
        area = int(self._mask.sum()) or 1
        if changed.sum() / area >= self.motion_threshold:
            self._last_motion = captured_at
            return True
        return self._last_motion is not None and (captured_at - self._last_motion).total_seconds() <= self.hold_s


def small_gray(image: np.ndarray) -> np.ndarray:
    """Downscaled, blurred gray copy used for differencing."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = gray.shape
    small = cv2.resize(gray, (SMALL_WIDTH, max(1, round(h * SMALL_WIDTH / w))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (5, 5), 0)


def roi_mask(roi: list[tuple[int, int]] | None, width: int, height: int, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the ROI polygon (full-resolution pixels) at the small image's size."""
    if not roi:
        return np.ones(shape, bool)
    sx, sy = shape[1] / width, shape[0] / height
    polygon = np.array([[round(x * sx), round(y * sy)] for x, y in roi], np.int32)
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [polygon], 1)
    return mask.astype(bool)
