"""A frame on its way to alpr.frames.v1: the JPEG, the camera, and the two clocks.

The frame id is deterministic ('<camera_id>:<captured_at epoch ms>'): a frame published
twice (a retried upload, a replay run again) carries the same id, and everything downstream
folds the copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from alpr.cameras import Camera
from alpr.contracts.models import utc_iso

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
CONTENT_TYPE = "image/jpeg"


class BadImage(ValueError):
    """The bytes are not a complete JPEG (the message is safe to show the client)."""


class FrameTooLarge(ValueError):
    """Even at the lowest quality tried, the JPEG exceeds the configured maximum."""


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, floored, exactly as `utc_iso` truncates (no float rounding)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class Frame:
    """One accepted frame: `ingested_at` is when ingest took it (the pipeline's latency origin)."""

    camera: Camera
    captured_at: datetime
    jpeg: bytes
    ingested_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def frame_id(self) -> str:
        return f"{self.camera.camera_id}:{epoch_ms(self.captured_at)}"

    @property
    def key(self) -> bytes:
        # Keyed by camera: one camera's frames stay in one partition, in order.
        return self.camera.camera_id.encode()

    def headers(self) -> list[tuple[str, bytes]]:
        """The frames contract (alpr.contracts.models.FrameHeaders) as Kafka headers."""
        c = self.camera
        headers = [
            ("frame_id", self.frame_id.encode()),
            ("camera_id", c.camera_id.encode()),
            ("facility_id", c.facility_id.encode()),
            ("lane", c.lane.encode()),
            ("direction", c.direction.encode()),
            ("captured_at", utc_iso(self.captured_at).encode()),
            ("ingested_at", utc_iso(self.ingested_at).encode()),
            ("content_type", CONTENT_TYPE.encode()),
        ]
        if c.roi:
            # The frame carries its camera's region so the recognizer reads only the lane,
            # without a copy of the camera registry.
            headers.append(("roi", " ".join(f"{x},{y}" for x, y in c.roi).encode()))
        return headers


def encode_jpeg(image: np.ndarray, quality: int, max_bytes: int) -> bytes:
    """JPEG-encode a BGR image; step the quality down until it fits `max_bytes`."""
    for q in _qualities(quality):
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise BadImage("the image cannot be JPEG-encoded")
        if buf.nbytes <= max_bytes:
            return buf.tobytes()
    raise FrameTooLarge(f"a {image.shape[1]}x{image.shape[0]} frame does not fit in {max_bytes} bytes as JPEG")


def _qualities(start: int) -> list[int]:
    steps = [start] + [q for q in (75, 60, 45, 30) if q < start]
    return steps


def check_jpeg(data: bytes) -> np.ndarray:
    """Validate an uploaded JPEG; return a small gray decode of it (cheap: DCT-scaled by 8).

    libjpeg decodes a truncated file into a picture padded with gray and only warns, so the
    end-of-image marker is checked explicitly; trailing padding after it is tolerated.
    """
    if not data.startswith(JPEG_SOI):
        raise BadImage("not a JPEG (no start-of-image marker)")
    if JPEG_EOI not in data[-64:]:
        raise BadImage("truncated JPEG (no end-of-image marker)")
    small = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    if small is None or small.size == 0:
        raise BadImage("corrupt JPEG (cannot be decoded)")
    return small


def shrink_jpeg(data: bytes, quality: int, max_bytes: int) -> bytes:
    """An uploaded JPEG as published: untouched when it fits, else re-encoded smaller."""
    if len(data) <= max_bytes:
        return data
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadImage("corrupt JPEG (cannot be decoded)")
    return encode_jpeg(image, quality, max_bytes)
