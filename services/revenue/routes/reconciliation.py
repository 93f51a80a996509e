"""Finance's view (REVENUE_READ): daily reconciliation (JSON, CSV) and the final matches of a day."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import date

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from alpr.http import Access
from services.revenue.deps import MatchesRead, RevenueRead
from services.revenue.reconciliation import reconcile, to_csv

router = APIRouter(prefix="/v1/revenue", tags=["revenue"])
FACILITY = Query(None, pattern=r"^[A-Za-z0-9._:/#@-]{1,200}$")


class DiscrepancyPublic(BaseModel):
    category: str
    count: int
    cents: int


class ReconciliationPublic(BaseModel):
    facility_id: str
    day: str
    vehicles: int
    sessions: int
    permit_sessions: int
    expected_cents: int
    matched_paid_cents: int
    collected_cents: int
    discrepancies: list[DiscrepancyPublic]


class ReconciliationsPublic(BaseModel):
    day: str
    tariff_version: str
    facilities: list[ReconciliationPublic]


class MatchPublic(BaseModel):
    match_id: str
    session_id: str
    facility_id: str
    plate: str
    status: str
    session_state: str
    amount_due_cents: int
    amount_paid_cents: int
    payment_ids: list[str]
    match_confidence: float
    reason: str
    tariff_version: str


class MatchesPublic(BaseModel):
    count: int
    matches: list[MatchPublic]


async def _reconcile(request: Request, access: Access, day: date, facility_id: str | None, fmt: str):
    services = request.app.state.services
    recs = await asyncio.to_thread(reconcile, services.store, day, services.tariff.spec.timezone, facility_id)
    await asyncio.to_thread(
        access.served, filters={"day": day.isoformat(), "facility_id": facility_id, "format": fmt}, row_count=len(recs)
    )
    return services, recs


@router.get("/reconciliation", response_model=ReconciliationsPublic)
async def reconciliation(request: Request, access: RevenueRead, day: date, facility_id: str | None = FACILITY):
    services, recs = await _reconcile(request, access, day, facility_id, "json")
    return ReconciliationsPublic(
        day=day.isoformat(),
        tariff_version=services.tariff.version,
        facilities=[ReconciliationPublic(**asdict(r)) for r in recs],
    )


@router.get("/reconciliation.csv")
async def reconciliation_csv(request: Request, access: RevenueRead, day: date, facility_id: str | None = FACILITY):
    _, recs = await _reconcile(request, access, day, facility_id, "csv")
    return Response(
        to_csv(recs),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="reconciliation-{day.isoformat()}.csv"'},
    )


@router.get("/matches", response_model=MatchesPublic)
async def matches(
    request: Request,
    access: MatchesRead,
    day: date,
    facility_id: str | None = FACILITY,
    limit: int = Query(1000, ge=1, le=10_000),
):
    services = request.app.state.services
    store = services.store
    sql = (
        f"SELECT match_id, session_id, facility_id, plate, status, session_state, amount_due_cents, amount_paid_cents, "
        f"payment_ids, match_confidence, reason, tariff_version FROM {store.database}.matches FINAL "
        f"WHERE toDate(entry_at, {{zone:String}}) = {{day:Date}} AND ({{facility:String}} = '' OR facility_id = {{facility:String}}) "
        f"ORDER BY session_id LIMIT {{limit:UInt32}}"
    )
    rows = await asyncio.to_thread(
        store.query,
        sql,
        {"zone": services.tariff.spec.timezone, "day": day.isoformat(), "facility": facility_id or "", "limit": limit},
    )
    await asyncio.to_thread(
        access.served,
        filters={"day": day.isoformat(), "facility_id": facility_id},
        plates=[r["plate"] for r in rows if r["plate"]],
        row_count=len(rows),
    )
    return MatchesPublic(count=len(rows), matches=[MatchPublic(**r) for r in rows])
