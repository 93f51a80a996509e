"""Passes: the many reads of one vehicle crossing a lane, folded into one record.

A camera sees a vehicle in several frames; the recognizer publishes a read per frame (or an
'unreadable' record when a plate box had no confident text). `PassFolder` assigns each read
to a pass of its lane:

* a pass whose capture-time window it falls in (no more than `gap_ms` before the pass's
  first read or after its last), and
* whose plate is the same vehicle's: equal after folding confusable characters
  (`alpr.plates.confusable_key`: 8/B, 0/O/D/Q, 1/I/L, 5/S, 2/Z, 6/G), or at most
  `max_distance` edits apart (a misread character that is not a confusable one), or one of
  the two has no plate ('unreadable' frames of the vehicle whose plate was read in others);
* among several, the one with the same confusable key, then the nearest in time;
* and none: the read starts a new pass.

A pass is *confirmed* (a vehicle, counted) when `confirm_reads` of its reads agree (two
frames of the same vehicle), or when it has `no_plate_min_reads` unreadable reads without
any plate: a no-plate pass still counts, otherwise occupancy drifts with every dirty or
missing plate. A single read never counts: on real footage a lone read is usually a
fragment (a plate half in the frame, a sign, a read of the vehicle behind), and a fragment
in the middle of a vehicle's reads is a pass of its own that never confirms, so it can
neither split the vehicle nor count; and a window holds one unconfirmed candidate at a time
(a read that matches nothing replaces it), so alternating fragments never add up to a
vehicle. 'no_plate' records (frames in which nothing was
detected) never create or extend a pass: they describe an empty view.

Why a lane keeps several passes (`Lane`), not one open pass: reads reach occupancy out of
capture order whenever frames or reads are sent again (a camera re-uploading, ingest
re-sending frames that timed out while the broker restarted, a recognizer replica finishing
a batch after a rebalance). With one open pass, a late read of the previous vehicle either
re-opened it as a second pass (counted twice) or was dropped (a two-read vehicle never
confirmed). So a pass stays in its lane until the lane's capture time (its watermark, the
latest read folded) is `horizon_ms` past it; reads older than the horizon are *late*: their
vehicle was folded and let go, and they are skipped.

A pass's plate is voted from all its reads (`alpr.plates.vote_plate`): the reads are aligned
character by character and each position takes the character with the most confidence behind
it, so three frames that read 8ABC123, 8A8C123 and 8ABC123 give 8ABC123 even when the middle
one was the most confident, and a frame that dropped a character still votes on the others.
The pass keeps the `MAX_VOTES` most confident reads for that. Its evidence crop is the most
confident read whose text is the voted plate (the camera's pixels of what the pass says).

Everything here is a pure function of the reads in order, so a replay gives the same passes
with the same `pass_id` = '<facility>/<lane>/<first read capture epoch ms>'.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from alpr.contracts import models as contracts
from alpr.contracts.models import Read
from alpr.plates import confusable_key, edit_distance, vote_plate

MAX_READ_IDS = 200  # alpr.passes.v1 carries at most this many read ids as evidence
# Reads a pass votes its plate from: the most confident ones. A vehicle crossing a lane gives
# 2-15 reads; a car that parks in view would otherwise grow the state without bound.
MAX_VOTES = 16


def epoch_ms(read: Read) -> int:
    return int(read.captured_at.timestamp() * 1000)


def same_vehicle(plate_a: str | None, plate_b: str | None, max_distance: int) -> bool:
    """Could two reads in one lane window be the same vehicle, going by their plates?"""
    if not plate_a or not plate_b:
        return True
    a, b = confusable_key(plate_a), confusable_key(plate_b)
    if a == b:
        return True
    # Short plates (vanity, motorcycle) leave too little text for an edit to be a misread.
    if min(len(a), len(b)) < 5:
        return False
    return edit_distance(a, b, max_distance) <= max_distance


@dataclass
class Pass:
    """One vehicle crossing one lane, with its best read."""

    pass_id: str
    facility_id: str
    lane: str
    camera_id: str
    direction: str
    first_seen_ms: int
    last_seen_ms: int
    plate: str | None = None
    confidence: float = 0.0
    best_read_id: str = ""
    crop_jpeg_b64: str = ""
    context_jpeg_b64: str = ""  # the best read's frame, downscaled (the vehicle in view)
    read_count: int = 0
    unreadable_count: int = 0
    confirmed: bool = False
    origin_ms: int = 0  # capture time of the read that confirmed it (latency origin)
    read_ids: list[str] = field(default_factory=list)  # evidence, the first MAX_READ_IDS
    models: dict[str, str] | None = None  # model versions of the best read
    votes: list[list] = field(default_factory=list)  # [plate, [char confidences]] of the MAX_VOTES best reads
    best_plate: str | None = None  # text of the read the crop comes from
    best_confidence: float = 0.0

    @property
    def plate_key(self) -> str:
        return confusable_key(self.plate) if self.plate else ""

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Pass:
        return cls(**{k: v for k, v in data.items() if k != "rival"})  # 'rival': state of before Lane


@dataclass
class Lane:
    """A lane's passes still open to reads (oldest first) and its capture-time watermark."""

    passes: list[Pass] = field(default_factory=list)
    watermark_ms: int = -1
    late_before_ms: int = -1  # reads captured at or before this are late

    def to_state(self) -> dict[str, Any]:
        return {
            "passes": [p.to_state() for p in self.passes],
            "watermark_ms": self.watermark_ms,
            "late_before_ms": self.late_before_ms,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Lane:
        if "passes" not in data:  # a single open pass, as states written before Lane held
            return cls([Pass.from_state(data)], data["last_seen_ms"], -1)
        return cls([Pass.from_state(p) for p in data["passes"]], int(data["watermark_ms"]), int(data["late_before_ms"]))


@dataclass
class FoldResult:
    """What one read did to its lane: the pass it is part of, and whether that pass just became a vehicle."""

    current: Pass
    newly_confirmed: bool


@dataclass
class PassFolder:
    """The folding rules (see the module docstring); holds no state of its own."""

    gap_ms: int = 3000
    max_distance: int = 1
    no_plate_min_reads: int = 2
    confirm_reads: int = 2
    crop_max_bytes: int = 48_000
    context_max_bytes: int = 40_000
    horizon_ms: int = 30_000

    def fold(self, lane: Lane, read: Read) -> FoldResult | None:
        """Fold a 'read' or 'unreadable' read into its pass of `lane`; None when it is late."""
        at = epoch_ms(read)
        if at <= lane.late_before_ms:
            return None
        p = self._pass_of(lane, read, at)
        if p is None:
            p = Pass(
                pass_id=f"{read.facility_id}/{read.lane}/{at}",
                facility_id=read.facility_id,
                lane=read.lane,
                camera_id=read.camera_id,
                direction=read.direction,
                first_seen_ms=at,
                last_seen_ms=at,
            )
            # One candidate at a time in a window: an unconfirmed pass this read falls next to
            # but does not match was a fragment (or a vehicle's lone first read); it gives way.
            # Fragments that alternate ('AG006AM', 'Y', 'AG006AM') then never add up to a vehicle.
            lane.passes = [q for q in lane.passes if q.confirmed or not self._near(q, at)]
            lane.passes.append(p)
            lane.passes.sort(key=lambda q: (q.first_seen_ms, q.pass_id))
        result = self._add(p, read, at)
        if at > lane.watermark_ms:
            lane.watermark_ms = at
            self._let_go(lane)
        return result

    def _near(self, p: Pass, at: int) -> bool:
        return p.first_seen_ms - self.gap_ms <= at <= p.last_seen_ms + self.gap_ms

    def _pass_of(self, lane: Lane, read: Read, at: int) -> Pass | None:
        plate = read.plate if read.outcome == "read" and read.plate else None
        key = confusable_key(plate) if plate else None
        best, best_rank = None, None
        for p in lane.passes:
            if not self._near(p, at):
                continue
            if not same_vehicle(p.plate, plate, self.max_distance):
                continue
            distance = max(p.first_seen_ms - at, at - p.last_seen_ms, 0)
            rank = (not (key and p.plate_key == key), distance, not p.confirmed)
            if best_rank is None or rank < best_rank:
                best, best_rank = p, rank
        return best

    def _let_go(self, lane: Lane) -> None:
        """Passes no read newer than the horizon can join leave the lane; older reads are late."""
        lane.late_before_ms = max(lane.late_before_ms, lane.watermark_ms - self.horizon_ms)
        lane.passes = [p for p in lane.passes if p.last_seen_ms + self.gap_ms >= lane.late_before_ms]

    def _add(self, p: Pass, read: Read, at: int) -> FoldResult:
        p.first_seen_ms = min(p.first_seen_ms, at)
        p.last_seen_ms = max(p.last_seen_ms, at)
        p.read_count += 1
        if len(p.read_ids) < MAX_READ_IDS:
            p.read_ids.append(read.read_id)
        readable = read.outcome == "read" and bool(read.plate)
        if not readable:
            p.unreadable_count += 1
        else:
            self._vote(p, read)
        if self._better(p, read, readable):
            if readable:
                p.best_plate, p.best_confidence = read.plate, read.confidence
            p.best_read_id = read.read_id
            p.camera_id = read.camera_id
            p.models = read.models.model_dump()
            crop = read.crop_jpeg_b64 or ""
            p.crop_jpeg_b64 = crop if len(crop) <= self.crop_max_bytes else ""
            context = read.context_jpeg_b64 or ""
            p.context_jpeg_b64 = context if len(context) <= self.context_max_bytes else ""
        newly = False
        if not p.confirmed and (
            (p.plate and p.read_count >= self.confirm_reads)
            or (not p.plate and p.unreadable_count >= self.no_plate_min_reads)
        ):
            p.confirmed = True
            p.origin_ms = at
            newly = True
        return FoldResult(p, newly)

    @staticmethod
    def _vote(p: Pass, read: Read) -> None:
        if not p.votes and p.plate:  # a pass from state written before votes were kept
            p.votes = [[p.plate, [p.confidence] * len(p.plate)]]
        confidences = list(read.char_confidences) or [read.confidence] * len(read.plate)
        p.votes.append([read.plate, confidences])
        if len(p.votes) > MAX_VOTES:
            p.votes.remove(min(p.votes, key=lambda v: min(v[1], default=0.0)))
        text, chars = vote_plate(p.votes)
        p.plate, p.confidence = text or None, min(chars, default=0.0)

    @staticmethod
    def _better(p: Pass, read: Read, readable: bool) -> bool:
        if not p.best_read_id:
            return True
        if readable:
            # The crop shows what the pass says: a read of the voted plate beats one of another
            # text and an unreadable box; among reads of the voted plate, the most confident.
            if read.plate != p.plate:
                return p.best_plate is None
            return p.best_plate != p.plate or read.confidence > p.best_confidence
        # A no-plate pass keeps the first unreadable box that came with a crop.
        return p.plate is None and not p.crop_jpeg_b64 and bool(read.crop_jpeg_b64)


def pass_row(p: Pass, held: bool) -> dict[str, Any]:
    """The passes table row of a confirmed pass (ReplacingMergeTree by pass_id, version = reads)."""
    return {
        "pass_id": p.pass_id,
        "facility_id": p.facility_id,
        "camera_id": p.camera_id,
        "lane": p.lane,
        "direction": p.direction,
        "plate": p.plate or "",
        "plate_key": p.plate_key,
        "confidence": p.confidence,
        "first_seen": datetime.fromtimestamp(p.first_seen_ms / 1000, UTC),
        "last_seen": datetime.fromtimestamp(p.last_seen_ms / 1000, UTC),
        "read_count": min(p.read_count, 65535),
        "best_read_id": p.best_read_id,
        "crop_jpeg_b64": p.crop_jpeg_b64,
        "version": p.read_count,
        "held": 1 if held else 0,
    }


def pass_message(p: Pass) -> contracts.Pass:
    """The alpr.passes.v1 message of a confirmed pass; republished as reads improve it (version)."""
    return contracts.Pass(
        pass_id=p.pass_id,
        facility_id=p.facility_id,
        camera_id=p.camera_id,
        lane=p.lane,
        direction=p.direction,
        plate=p.plate,
        plate_key=p.plate_key or None,
        confidence=p.confidence,
        first_seen=datetime.fromtimestamp(p.first_seen_ms / 1000, UTC),
        last_seen=datetime.fromtimestamp(p.last_seen_ms / 1000, UTC),
        read_count=p.read_count,
        best_read_id=p.best_read_id or None,
        read_ids=p.read_ids,
        version=p.read_count,
        best_crop_jpeg_b64=p.crop_jpeg_b64 or None,
        models=p.models,
        context_jpeg_b64=p.context_jpeg_b64 or None,
    )
