"""Occupancy: entries minus exits per facility, kept exactly once under redelivery.

`FacilityState` is everything the service knows about one facility, kept as ONE value of the
changelog-backed faust table (key = facility_id). One value per facility makes every update
atomic: the count, the open pass of each lane, the ids already seen and the source offsets
that the state reflects change together in one changelog message, or not at all.

Exactly once, in three guards (all part of that value):

1. `offsets`: the next source offset per partition that the state already includes. The
   state is written and acknowledged by the broker before faust can commit the batch's
   offsets (`alpr.kafka.state.save_state`: faust's own flush gives up after 0.1 s), so after
   a crash the recovered state is at or ahead of the committed offset; redelivered reads
   below `offsets` are skipped.
2. `recent_reads`: read ids seen lately. The recognizer publishes at least once, so the
   same read can come back at a new offset; it is folded once.
3. `counted`: pass ids already counted. A pass re-formed from re-published reads (same
   deterministic pass_id) changes occupancy once.
4. each lane's horizon (`passes.Lane`): a read older than the passes the lane still keeps
   belongs to a vehicle folded and let go; it is skipped as late.

Entries minus exits does not depend on the order the passes arrive in, except at the floor:
an exit counted at occupancy 0 is lost. Lanes are read by different recognizer replicas, so
after a broker restart one lane's reads can arrive tens of seconds after another's (seen in
the broker-restart demo: the exit lane's passes took the count to 0 while the entry lane was
still catching up, and the day ended one vehicle high). So an exit at 0 is *deferred*, not
dropped: an entry captured before it that arrives later cancels it (its vehicle had entered)
instead of raising the count. A deferred exit that no earlier entry claims within
`DEFER_EXIT_MS` of capture time is an exit without entry (a vehicle parked before the
system started) and is forgotten. The hold and the cancel are in the history with the reason.

`Occupancy.apply` is pure (no I/O): reads in, state changes plus `Effects` (pass rows,
history rows, events) out; the stream writes the effects, then the state.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from alpr.contracts.models import OccupancyEvent, Read
from services.occupancy.passes import Lane, Pass, PassFolder

DELTA = {"entry": 1, "exit": -1, "patrol": 0}
# How long an exit counted at 0 waits for a late entry captured before it (capture time).
DEFER_EXIT_MS = 10 * 60 * 1000
MAX_DEFERRED_EXITS = 64


@dataclass
class FacilityState:
    """One facility's occupancy and folding state: the value of the faust table."""

    facility_id: str
    occupied: int = 0
    partition: int = -1
    offsets: dict[str, int] = field(default_factory=dict)
    lanes: dict[str, Lane] = field(default_factory=dict)
    recent_reads: deque[str] = field(default_factory=deque)
    counted: deque[str] = field(default_factory=deque)
    last_event: dict[str, Any] | None = None
    deferred_exits: list[list] = field(default_factory=list)  # [capture ms, pass_id] of exits at 0
    _read_set: set[str] = field(default_factory=set, repr=False)
    _counted_set: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self._read_set = set(self.recent_reads)
        self._counted_set = set(self.counted)

    def to_state(self) -> dict[str, Any]:
        return {
            "facility_id": self.facility_id,
            "occupied": self.occupied,
            "partition": self.partition,
            "offsets": dict(self.offsets),
            "lanes": {name: lane.to_state() for name, lane in self.lanes.items()},
            "recent_reads": list(self.recent_reads),
            "counted": list(self.counted),
            "last_event": self.last_event,
            "deferred_exits": [list(x) for x in self.deferred_exits],
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> FacilityState:
        return cls(
            facility_id=data["facility_id"],
            occupied=int(data["occupied"]),
            partition=int(data.get("partition", -1)),
            offsets={str(k): int(v) for k, v in data.get("offsets", {}).items()},
            lanes={name: Lane.from_state(lane) for name, lane in data.get("lanes", {}).items()},
            recent_reads=deque(data.get("recent_reads", [])),
            counted=deque(data.get("counted", [])),
            last_event=data.get("last_event"),
            deferred_exits=[[int(at), str(pid)] for at, pid in data.get("deferred_exits", [])],
        )

    def seen_read(self, read_id: str, keep: int) -> bool:
        """True if the read was folded already; otherwise remember it (bounded)."""
        if read_id in self._read_set:
            return True
        _remember(self.recent_reads, self._read_set, read_id, keep)
        return False

    def count_once(self, pass_id: str, keep: int) -> bool:
        """True the first time a pass is counted; False for a pass counted before."""
        if pass_id in self._counted_set:
            return False
        _remember(self.counted, self._counted_set, pass_id, keep)
        return True


def _remember(order: deque[str], members: set[str], item: str, keep: int) -> None:
    order.append(item)
    members.add(item)
    while len(order) > keep:
        members.discard(order.popleft())


@dataclass
class Effects:
    """What a batch of reads changed: rows to write and events to publish."""

    passes: dict[str, Pass] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    events: list[OccupancyEvent] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


@dataclass
class Occupancy:
    """Folds reads into passes and counts confirmed entry/exit passes against capacity."""

    folder: PassFolder
    capacities: dict[str, int]
    overflow_tolerance: float = 0.10
    recent_ids: int = 512

    def limit(self, facility_id: str) -> int:
        """Most vehicles the count may reach: capacity plus the tolerance."""
        return math.floor(self.capacities[facility_id] * (1 + self.overflow_tolerance))

    def apply(self, state: FacilityState, read: Read, partition: int, offset: int, effects: Effects) -> None:
        """Apply one read at (partition, offset) to its facility's state; idempotent."""
        key = str(partition)
        if offset < state.offsets.get(key, 0):
            effects.skip("redelivered")
            return
        state.offsets[key] = offset + 1
        state.partition = partition
        if read.outcome == "no_plate":
            # A frame with nothing detected: evidence of an empty view, not of a vehicle.
            effects.skip("no_plate")
            return
        if state.seen_read(read.read_id, self.recent_ids):
            effects.skip("duplicate_read")
            return
        result = self.folder.fold(state.lanes.setdefault(read.lane, Lane()), read)
        if result is None:
            # Older than the lane's horizon: a read of a vehicle already folded and let go (a
            # redelivery older than `recent_reads` remembers).
            effects.skip("late")
            return
        p = result.current
        if p.confirmed:
            effects.passes[p.pass_id] = replace(p, read_ids=list(p.read_ids))
        if result.newly_confirmed and state.count_once(p.pass_id, self.recent_ids):
            self._count(state, p, read, effects)

    def _count(self, state: FacilityState, p: Pass, read: Read, effects: Effects) -> None:
        wanted = DELTA[p.direction]
        if wanted == 0:
            return  # patrol passes are stored for search; they do not move occupancy
        before = state.occupied
        at_ms = p.first_seen_ms
        # Exits at 0 older than the window had no entry: forgotten (bounded state).
        state.deferred_exits = [x for x in state.deferred_exits if x[0] >= at_ms - DEFER_EXIT_MS]
        note = ""
        claimed = next((x for x in state.deferred_exits if x[0] > at_ms), None) if wanted > 0 else None
        if claimed is not None:
            # A late entry of a vehicle whose exit was counted at 0: the two cancel out.
            state.deferred_exits.remove(claimed)
            after = before
            note = f"entry arrived after an exit counted at 0 ({claimed[1]}): cancels it"
        else:
            after = min(before + 1, self.limit(state.facility_id)) if wanted > 0 else max(before - 1, 0)
            if after != before + wanted:
                if wanted < 0:
                    state.deferred_exits = (state.deferred_exits + [[at_ms, p.pass_id]])[-MAX_DEFERRED_EXITS:]
                    note = "exit with occupancy at 0: not counted, held for a late entry"
                else:
                    note = "entry over capacity tolerance: not counted"
        state.occupied = after
        event_id = f"{state.facility_id}:{p.pass_id}"
        effects.history.append(
            self.history_row(
                event_id,
                state.facility_id,
                read.captured_at,
                after,
                after - before,
                "pass",
                p.pass_id,
                "",
                note,
            )
        )
        if after != before:
            event = self.event(state, event_id, read.captured_at, "pass", p.pass_id, read.captured_at)
            effects.events.append(event)

    def adjust(self, state: FacilityState, occupied: int, actor: str, note: str, at: datetime, event_id: str):
        """A manual count replaces the occupancy (drift correction); returns (history row, event)."""
        before = state.occupied
        state.occupied = occupied
        row = self.history_row(
            event_id, state.facility_id, at, occupied, occupied - before, "adjustment", "", actor, note
        )
        return row, self.event(state, event_id, at, "adjustment", None, None)

    def event(
        self,
        state: FacilityState,
        event_id: str,
        at: datetime,
        reason: str,
        pass_id: str | None,
        origin: datetime | None,
    ) -> OccupancyEvent:
        capacity = self.capacities[state.facility_id]
        event = OccupancyEvent(
            event_id=event_id,
            facility_id=state.facility_id,
            occupied=state.occupied,
            capacity=capacity,
            available=capacity - state.occupied,
            as_of=at,
            reason=reason,
            last_pass_id=pass_id,
            origin_captured_at=origin,
        )
        state.last_event = event.model_dump(mode="json")
        return event

    def history_row(
        self,
        event_id: str,
        facility_id: str,
        at: datetime,
        occupied: int,
        delta: int,
        reason: str,
        pass_id: str,
        actor: str,
        note: str,
    ) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "facility_id": facility_id,
            "as_of": at,
            "occupied": occupied,
            "capacity": self.capacities[facility_id],
            "delta": delta,
            "reason": reason,
            "pass_id": pass_id,
            "actor": actor,
            "note": note,
        }


def replay(occupancy: Occupancy, reads: list[Read]) -> tuple[dict[str, FacilityState], Effects]:
    """A clean run over `reads` in order (one partition): the reference the tests compare with."""
    states: dict[str, FacilityState] = {}
    effects = Effects()
    for offset, read in enumerate(reads):
        state = states.setdefault(read.facility_id, FacilityState(read.facility_id))
        occupancy.apply(state, read, 0, offset, effects)
    return states, effects
