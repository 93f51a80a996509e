"""The scripted day of the service tests: what happens, and what must come out of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.occupancy.traffic import read, vehicle

T = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def scripted_reads():
    """(reads in publish order, bad messages to slip in before the last exit)."""
    a_entry = [
        read("garage-a", "L1", "entry", at(10.00), "8ABC123", confidence=0.90),
        read("garage-a", "L1", "entry", at(10.25), "BABC123", confidence=0.70),  # confusable 8/B
        read("garage-a", "L1", "entry", at(10.50), "8ABC128", confidence=0.60),  # a misread character
        read("garage-a", "L1", "entry", at(10.75), "8ABC123", confidence=0.97),  # the best read
        read("garage-a", "L1", "entry", at(11.00), None, outcome="no_plate"),  # empty view: ignored
    ]
    return [
        *vehicle("garage-a", "L2", "exit", at(0), "5EXT001", frames=3),  # an exit before any entry
        *a_entry,
        *[read("garage-a", "L1", "entry", at(20 + 0.25 * i), None) for i in range(3)],  # a no-plate vehicle
        read("garage-a", "L1", "entry", at(40), None),  # one unreadable box: a spurious detection
        *vehicle("garage-a", "L1", "entry", at(60), "7XYZ999", frames=2),
        *vehicle("garage-a", "L1", "entry", at(80), "6KLM444", frames=2),  # over capacity + tolerance
        vehicle("garage-a", "L1", "entry", at(60), "7XYZ999", frames=1)[0],  # re-published read: same read_id
        *vehicle("garage-b", "L1", "entry", at(30), "3JKP555", frames=3),
    ], vehicle("garage-a", "L2", "exit", at(100), "8ABC123", frames=2)


EXPECTED_OCCUPIED = {"garage-a": 2, "garage-b": 1}
# garage-a: exit at 0 (clamped), A in (1), no-plate in (2), B in (3 = 2 x 1.5), C in (clamped), A out (2).
EXPECTED_A_HISTORY = [
    (0, 0, "exit with occupancy at 0: not counted, held for a late entry"),
    (1, 1, ""),
    (2, 1, ""),
    (3, 1, ""),
    (3, 0, "entry over capacity tolerance: not counted"),
    (2, -1, ""),
]
EXPECTED_PASSES = {
    ("garage-a", "L2", "5EXT001"),
    ("garage-a", "L1", "8ABC123"),
    ("garage-a", "L1", ""),
    ("garage-a", "L1", "7XYZ999"),
    ("garage-a", "L1", "6KLM444"),
    ("garage-a", "L2", "8ABC123"),
    ("garage-b", "L1", "3JKP555"),
}
