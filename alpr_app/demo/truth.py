"""The demo's ground truth (written by `alpr demo-footage`) and the accuracy of reads against it.

Policy section 9 publishes a capture rate and a perfect-read rate; the demo measures both on
its own footage instead of assuming them. Per vehicle pass in the ground truth (a vehicle in
front of one lane camera during frames frame_first..frame_last):

- captured: at least one plate box (read or unreadable) in that camera during those frames;
- perfectly read: the most confident read in that window equals the true plate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alpr.plates import normalize


@dataclass(frozen=True)
class TruthPass:
    plate: str
    facility_id: str
    camera_id: str
    direction: str
    frame_first: int
    frame_last: int
    captured_at: datetime


def load_truth(path: Path) -> list[TruthPass]:
    out = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(
                TruthPass(
                    normalize(r["plate"]),
                    r["facility_id"],
                    r["camera_id"],
                    r["direction"],
                    int(r["frame_first"]),
                    int(r["frame_last"]),
                    datetime.fromisoformat(r["captured_at"].replace("Z", "+00:00")),
                )
            )
    return out


def expected_occupancy(truth: list[TruthPass]) -> dict[str, int]:
    occ: dict[str, int] = {}
    for t in truth:
        if t.direction in ("entry", "exit"):
            occ[t.facility_id] = occ.get(t.facility_id, 0) + (1 if t.direction == "entry" else -1)
    return occ


def accuracy(truth: list[TruthPass], reads: list[dict], start: datetime, fps: float) -> dict:
    """Capture and perfect-read rates of `reads` (alpr.reads.v1 dicts) against the truth."""
    by_camera: dict[str, list[tuple[int, dict]]] = {}
    for r in reads:
        at = datetime.fromisoformat(r["captured_at"].replace("Z", "+00:00"))
        frame = round((at - start).total_seconds() * fps)
        by_camera.setdefault(r["camera_id"], []).append((frame, r))
    captured = perfect = 0
    chars_ok = chars_total = 0
    misses = []
    for t in truth:
        window = [r for f, r in by_camera.get(t.camera_id, []) if t.frame_first <= f <= t.frame_last]
        boxes = [r for r in window if r["outcome"] in ("read", "unreadable")]
        if boxes:
            captured += 1
        readable = [r for r in window if r["outcome"] == "read"]
        best = max(readable, key=lambda r: r["confidence"], default=None)
        got = best["plate"] if best else ""
        if got == t.plate:
            perfect += 1
        else:
            misses.append({"truth": t.plate, "read": got, "camera": t.camera_id, "frames": len(window)})
        chars_total += len(t.plate)
        chars_ok += sum(a == b for a, b in zip(t.plate, got))
    n = len(truth) or 1
    return {
        "vehicle_passes": len(truth),
        "capture_rate": round(captured / n, 4),
        "perfect_read_rate": round(perfect / n, 4),
        "char_accuracy": round(chars_ok / max(1, chars_total), 4),
        "misreads": misses[:10],
    }


def accuracy_by_camera(truth: list[TruthPass], reads: list[dict], start: datetime, fps: float) -> dict[str, dict]:
    """`accuracy` per lane camera (the ground truth's side of the summary's accuracy_by_camera)."""
    out = {}
    for camera in sorted({t.camera_id for t in truth}):
        a = accuracy([t for t in truth if t.camera_id == camera], [r for r in reads if r["camera_id"] == camera],
                     start, fps)  # fmt: skip
        out[camera] = {k: a[k] for k in ("vehicle_passes", "capture_rate", "perfect_read_rate")}
    return out


def true_plate(truth: list[TruthPass], passes: list[dict], start: datetime, fps: float) -> str | None:
    """The true plate of a review task's session: the vehicle in front of the first pass's camera
    when that pass was first seen (None: no vehicle of the footage, e.g. the closing patrol)."""
    for p in passes:
        seen = p["first_seen"]
        seen = datetime.fromisoformat(seen.replace("Z", "+00:00")) if isinstance(seen, str) else seen
        seen = seen if seen.tzinfo else seen.replace(tzinfo=UTC)  # the store's times are UTC
        frame = round((seen - start).total_seconds() * fps)
        for t in truth:
            if t.camera_id == p["camera_id"] and t.frame_first - 1 <= frame <= t.frame_last + 1:
                return t.plate
    return None
