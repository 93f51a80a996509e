"""Reconciliation: per facility and local day, what was expected against what was collected.

For finance (policy 4.1, "verification and reconciliation of parking revenue and collected
vehicle transactions"): vehicles that entered (no-plate ones included), sessions, revenue
expected by the tariff, what the matched payments paid, what was collected that day, and
the discrepancies by category (underpaid, unpaid, overpaid, payment without session,
orphan entries, exits without entry, vehicles without a readable plate). Always read with
FINAL: one row per session (the latest decision) whatever was redelivered.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from datetime import date

from alpr.store import Store

CATEGORIES = (
    "underpaid",
    "unpaid",
    "overpaid",
    "payment_without_session",
    "orphan_entry",
    "exit_without_entry",
    "no_plate",
)


@dataclass
class Discrepancy:
    category: str
    count: int
    cents: int


@dataclass
class Reconciliation:
    """One facility's day."""

    facility_id: str
    day: str
    vehicles: int = 0
    sessions: int = 0
    expected_cents: int = 0
    matched_paid_cents: int = 0
    collected_cents: int = 0
    permit_sessions: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)

    def discrepancy(self, category: str) -> Discrepancy:
        return next(d for d in self.discrepancies if d.category == category)


def _on_day(column: str) -> str:
    """The row's local calendar day (the tariff's time zone) is the requested day."""
    return f"toDate({column}, {{zone:String}}) = {{day:Date}}"


def reconcile(store: Store, day: date, zone: str, facility_id: str | None = None) -> list[Reconciliation]:
    db = store.database
    params = {"day": day.isoformat(), "zone": zone, "facility": facility_id or ""}
    where_facility = "AND ({facility:String} = '' OR facility_id = {facility:String})"
    passes = store.query(
        f"SELECT facility_id, countIf(direction = 'entry') AS vehicles, countIf(direction = 'entry' AND plate = '') AS no_plate "
        f"FROM {db}.passes FINAL WHERE {_on_day('first_seen')} "
        f"{where_facility} GROUP BY facility_id",
        params,
    )
    sessions = store.query(
        f"SELECT facility_id, count() AS sessions, countIf(state = 'orphan_entry') AS orphans, "
        f"countIf(state = 'exit_without_entry') AS exits_only "
        # A superseded exit-only session is not a stay: its exit is part of the stay it was re-paired with.
        f"FROM {db}.sessions FINAL WHERE state NOT IN ('open', 'superseded') AND {_on_day('entry_at')} "
        f"{where_facility} GROUP BY facility_id",
        params,
    )
    matches = store.query(
        f"SELECT facility_id, status, count() AS n, sum(amount_due_cents) AS due, sum(amount_paid_cents) AS paid "
        f"FROM {db}.matches FINAL WHERE {_on_day('entry_at')} "
        f"{where_facility} GROUP BY facility_id, status",
        params,
    )
    collected = store.query(
        f"SELECT facility_id, sum(amount_cents) AS cents FROM {db}.payments FINAL "
        f"WHERE kind != 'permit' AND {_on_day('paid_at')} "
        f"{where_facility} GROUP BY facility_id",
        params,
    )
    out: dict[str, Reconciliation] = {}

    def of(fid: str) -> Reconciliation:
        if fid not in out:
            out[fid] = Reconciliation(fid, day.isoformat(), discrepancies=[Discrepancy(c, 0, 0) for c in CATEGORIES])
        return out[fid]

    for r in passes:
        rec = of(r["facility_id"])
        rec.vehicles = int(r["vehicles"])
        rec.discrepancy("no_plate").count = int(r["no_plate"])
    for r in sessions:
        rec = of(r["facility_id"])
        rec.sessions = int(r["sessions"])
        rec.discrepancy("orphan_entry").count = int(r["orphans"])
        rec.discrepancy("exit_without_entry").count = int(r["exits_only"])
    for r in matches:
        rec = of(r["facility_id"])
        due, paid, n = int(r["due"]), int(r["paid"]), int(r["n"])
        rec.expected_cents += due
        rec.matched_paid_cents += paid if r["status"] != "payment_without_session" else 0
        if r["status"] == "permit":
            rec.permit_sessions += n
        if r["status"] in CATEGORIES:
            d = rec.discrepancy(r["status"])
            d.count += n
            d.cents += abs(due - paid)
    for r in collected:
        of(r["facility_id"]).collected_cents = int(r["cents"])
    return [out[k] for k in sorted(out)]


CSV_HEADER = [
    "facility_id",
    "day",
    "vehicles",
    "sessions",
    "permit_sessions",
    "expected_cents",
    "matched_paid_cents",
    "collected_cents",
] + [f"{c}_{what}" for c in CATEGORIES for what in ("count", "cents")]


def to_csv(recs: list[Reconciliation]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_HEADER)
    for r in recs:
        d = asdict(r)
        writer.writerow([d[c] for c in CSV_HEADER[:8]] + [v for x in r.discrepancies for v in (x.count, x.cents)])
    return buf.getvalue()
