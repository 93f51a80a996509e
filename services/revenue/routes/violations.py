"""GET /v1/violations: the violations of a day (VIOLATIONS_READ, audited with its fixed purpose).

Enforcement's work list on the console: what was issued (a verified read or a reviewer's
confirmation, issue 16) and what was withdrawn, newest first. Plates are in the access record.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Literal

from fastapi import APIRouter, Query, Request

from services.revenue.deps import ViolationsRead

router = APIRouter(prefix="/v1/violations", tags=["violations"])


@router.get("")
async def violations(
    request: Request,
    access: ViolationsRead,
    day: date,
    facility_id: str | None = Query(None, max_length=200),
    state: Literal["issued", "withdrawn", "all"] = Query("all"),
    limit: int = Query(500, ge=1, le=5000),
) -> dict:
    services = request.app.state.services
    store = services.store
    sql = (
        f"SELECT violation_id, kind, session_id, facility_id, plate, "
        f"formatDateTime(detected_at, '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS detected_at, amount_due_cents, reason, "
        f"state, verified_by FROM {store.database}.violations FINAL "
        f"WHERE toDate(detected_at, {{zone:String}}) = {{day:Date}} "
        f"AND ({{facility:String}} = '' OR facility_id = {{facility:String}}) "
        f"AND ({{state:String}} = 'all' OR state = {{state:String}}) "
        f"ORDER BY detected_at DESC LIMIT {{limit:UInt32}}"
    )
    params = {
        "zone": services.tariff.spec.timezone,
        "day": day.isoformat(),
        "facility": facility_id or "",
        "state": state,
        "limit": limit,
    }
    rows = await asyncio.to_thread(store.query, sql, params)
    await asyncio.to_thread(
        access.served,
        filters={"day": day.isoformat(), "facility_id": facility_id, "state": state},
        plates=[r["plate"] for r in rows if r["plate"]],
        row_count=len(rows),
    )
    return {"count": len(rows), "violations": rows}
