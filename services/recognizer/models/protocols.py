"""The small interface between the recognizer service and its models (detector, reader).

The service only sees these protocols; `YoloPlateDetector` and `CrnnPlateReader` are the
trained implementations, and tests of consumer plumbing may pass stubs that satisfy them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the original frame


@dataclass(frozen=True)
class Detection:
    """A plate found in a frame: its box and the detector's confidence."""

    box: Box
    confidence: float


@dataclass(frozen=True)
class TextRead:
    """What a reader made of one crop: text (normalized) and per-character confidence, and the
    plate's region when the reader predicts one (the CCT v2 region head; None otherwise)."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    region: str | None = None


@dataclass(frozen=True)
class PlateRead:
    """One plate in one frame, as the recognizer reports it.

    `confidence` is the lowest per-character confidence (0 when nothing was read): a read
    is only as trustworthy as its weakest character. `crop` is the BGR cut the reader saw.
    `border_px` is how far the box stays from the nearest border of its frame (None when
    unknown): a box at the border is usually a plate cut off by it, whose text is a fragment.
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    bbox: Box
    crop: np.ndarray = field(repr=False, compare=False)
    detection_confidence: float = 0.0
    border_px: int | None = None


@runtime_checkable
class PlateDetector(Protocol):
    """Finds plates in BGR uint8 frames; one list of detections per frame."""

    name: str

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]: ...

    def warmup(self) -> None: ...


@runtime_checkable
class PlateReader(Protocol):
    """Reads plate crops (BGR uint8); one `TextRead` per crop, in order."""

    name: str

    def read(self, crops: Sequence[np.ndarray]) -> list[TextRead]: ...

    def warmup(self) -> None: ...
