"""Reading the audit trail: the auditors' query (policy section 6), always parameterized.

There is deliberately no update or delete here, nor anywhere in the API: the table is
append-only, and only its configured retention removes rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alpr.store import Store

MAX_ROWS = 10_000


@dataclass(frozen=True)
class TrailQuery:
    user: str | None = None
    action: str | None = None
    plate: str | None = None
    outcome: str | None = None
    purpose: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None
    limit: int = 1000
    users: tuple[str, ...] | None = None  # a supervisor's view: only these users

    def filters(self) -> dict[str, str]:
        return {
            k: (",".join(v) if isinstance(v, tuple) else str(v))
            for k, v in vars(self).items()
            if v is not None and k != "limit"
        }


def query_trail(store: Store, q: TrailQuery) -> list[dict[str, Any]]:
    where, params = ["1"], {}
    if q.user:
        where.append("user = {user:String}")
        params["user"] = q.user
    if q.users is not None:
        where.append("has({users:Array(String)}, user)")
        params["users"] = list(q.users)
    if q.action:
        where.append("action = {action:String}")
        params["action"] = q.action
    if q.plate:
        where.append("has(plates, {plate:String})")
        params["plate"] = q.plate
    if q.outcome:
        where.append("outcome = {outcome:String}")
        params["outcome"] = q.outcome
    if q.purpose:
        where.append("purpose = {purpose:String}")
        params["purpose"] = q.purpose
    if q.time_from:
        where.append("at >= {time_from:DateTime64(3, 'UTC')}")
        params["time_from"] = q.time_from.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if q.time_to:
        where.append("at < {time_to:DateTime64(3, 'UTC')}")
        params["time_to"] = q.time_to.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    limit = max(1, min(q.limit, MAX_ROWS))
    # FINAL folds redelivered copies of an event, so each access is listed once.
    return store.query(
        f"SELECT event_id, at, service, user, role, action, resource, filters, plates, row_count, client, outcome, reason, purpose, case_ref "
        f"FROM {store.database}.audit_log FINAL WHERE {' AND '.join(where)} ORDER BY at, event_id LIMIT {limit}",
        params,
    )
