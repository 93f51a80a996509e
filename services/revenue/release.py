"""What revenue hands over for an approved release to a public agency (policy section 7).

Mounted with `alpr.release.release_router`, like occupancy's: the route accepts only the
release token that governance mints for one approved request, and this function returns
revenue's rows inside that release's scope (its plates and/or its time range): the sessions,
the passes kept as evidence (with their crops), the payments, the matches and the violations.
Each table is cut by its own event time, the one its 365-day TTL counts from.
"""

from __future__ import annotations

from typing import Any

from alpr.release import ReleaseScope
from alpr.store import Store

# table -> (columns, the event time the scope's range applies to)
TABLES: dict[str, tuple[str, str]] = {
    "sessions": (
        "session_id, facility_id, plate, entry_pass_id, exit_pass_id, toString(entry_at) AS entry_at_utc, "
        "toString(exit_at) AS exit_at_utc, toString(state) AS state, pair_confidence, pair_reason, patrol_pass_ids",
        "entry_at",
    ),
    "passes": (
        "pass_id, facility_id, camera_id, lane, direction, plate, confidence, toString(first_seen) AS first_seen_utc, "
        "toString(last_seen) AS last_seen_utc, read_count, best_read_id, read_ids, model_detector, model_reader, "
        "crop_jpeg_b64",
        "first_seen",
    ),
    "payments": (
        "payment_id, kind, facility_id, plate, amount_cents, toString(paid_at) AS paid_at_utc, "
        "toString(valid_from) AS valid_from_utc, toString(valid_until) AS valid_until_utc, permit_type, source",
        "paid_at",
    ),
    "matches": (
        "match_id, session_id, facility_id, plate, status, toString(entry_at) AS entry_at_utc, "
        "toString(exit_at) AS exit_at_utc, amount_due_cents, amount_paid_cents, payment_ids, evidence_pass_ids, "
        "match_confidence, reason, tariff_version, toString(decided_at) AS decided_at_utc",
        "entry_at",
    ),
    "violations": (
        "violation_id, kind, session_id, facility_id, plate, toString(detected_at) AS detected_at_utc, "
        "amount_due_cents, evidence_pass_ids, reason",
        "detected_at",
    ),
}


def export_release(store: Store, scope: ReleaseScope) -> dict[str, list[dict[str, Any]]]:
    """Rows of revenue within the release scope, by table (latest version of each row)."""
    params: dict[str, Any] = {**scope.bounds(), "plates": list(scope.plates)}
    plate_filter = "AND has({plates:Array(String)}, plate)" if scope.plates else ""
    return {
        table: store.query(
            f"SELECT {columns} FROM {store.database}.{table} FINAL "
            f"WHERE {at} >= {{start:DateTime64(3, 'UTC')}} AND {at} < {{end:DateTime64(3, 'UTC')}} "
            f"{plate_filter} ORDER BY {at}",
            params,
        )
        for table, (columns, at) in TABLES.items()
    }
