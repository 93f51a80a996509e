"""Where frames come from: video files, image folders (replay, tests) and RTSP/HTTP streams.

Each source yields `(captured_at, image)` in capture order. Files carry no wall clock, so
their capture time is a configured start plus the frame's timestamp in the file; a live
stream's capture time is when the frame arrives (RTSP timestamps are relative and cameras'
clocks drift). Failures are `SourceError`s with a sentence that an operator can act on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

# FFmpeg and OpenCV print every refused connection on stderr; our own JSON log line says it once.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
Captured = tuple[datetime, np.ndarray]
SourceKind = Literal["file", "folder", "stream", "upload"]
SourceState = Literal["starting", "streaming", "backoff", "finished", "failed", "push"]


class SourceError(Exception):
    """The source cannot be opened or read (a stream is retried; a file is reported and skipped)."""


class FrameUnreadable(Exception):
    """One frame of a source cannot be decoded; the source goes on with the next."""


@dataclass
class SourceStatus:
    """What /v1/sources shows about one camera's source; updated by its feed thread."""

    camera_id: str
    kind: SourceKind
    source: str | None
    state: SourceState = "starting"
    failures: int = 0  # consecutive failed opens/reads (resets when frames flow)
    reconnects: int = 0  # total, since start
    retry_in_s: float | None = None
    last_error: str | None = None
    frames_seen: int = 0
    frames_selected: int = 0
    errors: int = 0
    last_frame_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)


def video_file(path: Path, start: datetime) -> Iterator[Captured]:
    """Frames of a video file; captured_at = start + frame index / the file's frame rate."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        what = "does not exist" if not path.exists() else "cannot be decoded (corrupt or unsupported)"
        raise SourceError(f"video file {path} {what}")
    try:
        fps = capture.get(cv2.CAP_PROP_FPS)
        if not fps or fps != fps or fps <= 0:
            raise SourceError(f"video file {path} has no frame rate")
        expected = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            yield start + timedelta(seconds=index / fps), image
            index += 1
        if index == 0:
            raise SourceError(f"video file {path} has no readable frame")
        if expected and index < expected:
            raise SourceError(f"video file {path} ended after {index} of {expected} frames (truncated or corrupt)")
    finally:
        capture.release()


def image_folder(path: Path, start: datetime, fps: float) -> Iterator[Captured | FrameUnreadable]:
    """Images of a folder in name order, `1/fps` apart; an unreadable image is yielded as FrameUnreadable."""
    if not path.is_dir():
        raise SourceError(f"image folder {path} does not exist")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SourceError(f"image folder {path} holds no .jpg/.png/.bmp image")
    for index, file in enumerate(files):
        image = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if image is None:
            yield FrameUnreadable(f"{file.name} cannot be decoded")
            continue
        yield start + timedelta(seconds=index / fps), image


def stream(url: str, timeout_s: float) -> Iterator[Captured]:
    """Frames of an RTSP/HTTP stream through FFmpeg until it fails (raises SourceError) or ends."""
    timeout_ms = int(timeout_s * 1000)
    capture = cv2.VideoCapture(
        url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
    )
    if not capture.isOpened():
        raise SourceError("cannot open stream (refused, unreachable or not a video stream)")
    try:
        while True:
            try:
                ok, image = capture.read()
            except cv2.error as err:
                raise SourceError(f"stream decode error: {str(err).strip().splitlines()[-1]}") from None
            if not ok:
                raise SourceError("stream stopped delivering frames")
            yield datetime.now(UTC), image
    finally:
        capture.release()
