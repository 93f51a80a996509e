"""Writer: the rows the revenue service keeps in its own ClickHouse database.

Every table is ReplacingMergeTree keyed by a deterministic id (pass_id, session_id,
payment_id, violation_id), so a batch written twice (redelivery after a crash) leaves one
row per id. Rows inside an active legal hold's scope are written held (`HoldKeeper.is_held`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alpr.contracts.models import Pass, Payment, RevenueMatch, Violation
from alpr.holds import HeldTable, HoldKeeper
from alpr.store import Store
from services.revenue.session import Session

HELD_TABLES = [
    HeldTable("sessions", "plate", "entry_at"),
    HeldTable("payments", "plate", "paid_at"),
    HeldTable("matches", "plate", "entry_at"),
    HeldTable("violations", "plate", "detected_at"),
    HeldTable("passes", "plate", "first_seen"),
    HeldTable("reviews", "plate", "created_at"),
    HeldTable("evidence_custody", "plate", "session_at"),
]


def _held(keeper: HoldKeeper | None, plate: str | None, at: datetime) -> int:
    return int(keeper is not None and keeper.is_held(plate, at))


def pass_row(p: Pass, keeper: HoldKeeper | None) -> dict[str, Any]:
    return {
        "pass_id": p.pass_id,
        "facility_id": p.facility_id,
        "camera_id": p.camera_id,
        "lane": p.lane,
        "direction": p.direction,
        "plate": p.plate or "",
        "plate_key": p.plate_key or "",
        "confidence": p.confidence,
        "first_seen": p.first_seen,
        "last_seen": p.last_seen,
        "read_count": p.read_count,
        "best_read_id": p.best_read_id or "",
        "read_ids": list(p.read_ids),
        "model_detector": p.models.detector if p.models else "",
        "model_reader": p.models.reader if p.models else "",
        "crop_jpeg_b64": p.best_crop_jpeg_b64 or "",
        "context_jpeg_b64": p.context_jpeg_b64 or "",
        "version": p.version,
        "held": _held(keeper, p.plate, p.first_seen),
    }


def session_row(s: Session, keeper: HoldKeeper | None) -> dict[str, Any]:
    at = s.entry_at or s.exit_at
    return {
        "session_id": s.session_id,
        "facility_id": s.facility_id,
        "plate": s.plate,
        "plate_key": s.plate_key,
        "entry_pass_id": s.entry_pass_id,
        "exit_pass_id": s.exit_pass_id,
        "entry_at": at,
        "exit_at": s.exit_at,
        "state": s.state,
        "pair_confidence": s.pair_confidence,
        "pair_reason": s.pair_reason[:500],
        "patrol_pass_ids": s.patrol_pass_ids,
        "entry_confidence": s.entry_confidence,
        "exit_confidence": s.exit_confidence,
        "version": s.version,
        "held": _held(keeper, s.plate, at),
    }


def payment_row(p: Payment, keeper: HoldKeeper | None) -> dict[str, Any]:
    return {
        "payment_id": p.payment_id,
        "kind": p.kind,
        "facility_id": p.facility_id,
        "plate": p.plate,
        "amount_cents": p.amount_cents,
        "paid_at": p.paid_at,
        "valid_from": p.valid_from,
        "valid_until": p.valid_until,
        "permit_type": p.permit_type or "",
        "source": p.source,
        "held": _held(keeper, p.plate, p.paid_at),
    }


def match_row(m: RevenueMatch, lookup: dict[str, Any], session_state: str, keeper: HoldKeeper | None) -> dict[str, Any]:
    at = m.entry_at or m.exit_at or m.decided_at
    row = m.model_dump()
    row.update(
        {
            "entry_at": at,
            "plate": m.plate or "",
            "lookup": json.dumps(lookup, default=str),
            "session_state": session_state,
            "held": _held(keeper, m.plate, at),
        }
    )
    return row


def violation_row(v: Violation, keeper: HoldKeeper | None) -> dict[str, Any]:
    row = v.model_dump()
    row["held"] = _held(keeper, v.plate, v.detected_at)
    return row


def review_row(
    s: Session, reasons: list[str], review: dict[str, Any] | None, keeper: HoldKeeper | None
) -> dict[str, Any]:
    """The session's review task: queued, or as a reviewer decided it (latest version wins)."""
    at = s.entry_at or s.exit_at
    decided = review is not None
    return {
        "review_id": s.session_id,
        "session_id": s.session_id,
        "facility_id": s.facility_id,
        "plate": review["plate_before"] if decided else s.plate,
        "plate_key": s.plate_key,
        "reasons": reasons,
        "state": review["decision"] if decided else "queued",
        "entry_pass_id": s.entry_pass_id,
        "exit_pass_id": s.exit_pass_id,
        "entry_confidence": s.entry_confidence,
        "exit_confidence": s.exit_confidence,
        "created_at": at,
        "plate_after": review["plate"] if decided else "",
        "reviewer": review["reviewer"] if decided else "",
        "decided_at": datetime.fromisoformat(review["decided_at"].replace("Z", "+00:00")) if decided else None,
        "version": int(datetime.fromisoformat(review["decided_at"].replace("Z", "+00:00")).timestamp() * 1000)
        if decided
        else 1,
        "held": _held(keeper, s.plate, at),
    }


@dataclass
class Rows:
    """One batch's rows, by table, written together."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.tables.setdefault(table, []).append(row)

    def write(self, store: Store) -> int:
        n = 0
        for table, rows in self.tables.items():
            n += store.insert(table, rows)
        return n
