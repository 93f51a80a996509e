"""Synthetic lane traffic: the reads a recognizer would publish for vehicles crossing lanes.

Used by the benchmark and the tests, so both feed the service the same shape of messages
as production: several frames per vehicle, deterministic read ids, a crop per plate read.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alpr.contracts.models import Read

# The smallest valid JPEG (1x1 grey): the crop of every synthetic read.
TINY_JPEG_B64 = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////"
    "wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
)
MODELS = {"detector": "synthetic@1", "reader": "synthetic@1"}


def read(
    facility: str,
    lane: str,
    direction: str,
    at: datetime,
    plate: str | None,
    *,
    outcome: str | None = None,
    confidence: float = 0.95,
    camera: str | None = None,
    now: datetime | None = None,
) -> Read:
    """One read of a frame captured at `at` in `lane` (outcome read / unreadable / no_plate)."""
    camera = camera or f"cam-{facility}-{lane}"
    outcome = outcome or ("read" if plate else "unreadable")
    frame_id = f"{camera}:{int(at.timestamp() * 1000)}"
    box = -1 if outcome == "no_plate" else 0
    stamp = now or at
    return Read(
        read_id=f"{frame_id}#{'-' if box < 0 else box}",
        frame_id=frame_id,
        camera_id=camera,
        facility_id=facility,
        lane=lane,
        direction=direction,
        outcome=outcome,
        plate=plate if outcome == "read" else None,
        confidence=confidence if outcome == "read" else 0.0,
        char_confidences=[],
        detection_confidence=0.0 if outcome == "no_plate" else 0.9,
        box_index=box,
        bbox=None if outcome == "no_plate" else {"x": 10, "y": 10, "w": 120, "h": 40},
        crop_jpeg_b64=None if outcome == "no_plate" else TINY_JPEG_B64,
        context_jpeg_b64=None if outcome == "no_plate" else TINY_JPEG_B64,  # stands in for the frame
        models=MODELS,
        captured_at=at,
        ingested_at=stamp,
        processed_at=stamp,
    )


def vehicle(
    facility: str,
    lane: str,
    direction: str,
    start: datetime,
    plate: str | None,
    frames: int = 4,
    frame_gap_s: float = 0.25,
) -> list[Read]:
    """The reads of one vehicle crossing a lane: `frames` frames, `frame_gap_s` apart."""
    return [
        read(facility, lane, direction, start + timedelta(seconds=i * frame_gap_s), plate, confidence=0.80 + 0.04 * i)
        for i in range(frames)
    ]


@dataclass
class Traffic:
    """Random vehicles entering and leaving facilities, in capture order (deterministic per seed)."""

    facilities: list[str]
    seed: int = 7
    frames: int = 4
    vehicle_gap_s: float = 4.0

    def reads(self, vehicles: int, start: datetime | None = None) -> list[Read]:
        rng = random.Random(self.seed)
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        out: list[Read] = []
        inside: dict[str, list[str]] = {f: [] for f in self.facilities}
        clock = {f: start for f in self.facilities}
        for n in range(vehicles):
            f = self.facilities[n % len(self.facilities)]
            leaving = inside[f] and rng.random() < 0.45
            plate = inside[f].pop(rng.randrange(len(inside[f]))) if leaving else _plate(rng)
            if not leaving:
                inside[f].append(plate)
            lane, direction = ("L2", "exit") if leaving else ("L1", "entry")
            clock[f] += timedelta(seconds=self.vehicle_gap_s)
            out += vehicle(f, lane, direction, clock[f], plate, frames=self.frames)
        return out


def _plate(rng: random.Random) -> str:
    letters = "ACEFHJKMNPRTUVWXY"  # no confusable letters: distinct vehicles stay distinct
    return f"{rng.randrange(1, 10)}{''.join(rng.choice(letters) for _ in range(3))}{rng.randrange(100, 1000)}"
