"""The auditors' view of the audit trail (policy section 6), JSON and CSV.

Auditors and administrators see every event; any other user with the permission (a
supervisor in Parking Management) sees only the actions of their own staff: "Audits are
available for authorized users to view the actions of their staff."
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel

from alpr.http import Access
from services.audit.deps import AuditRead, RegistryDep, StoreDep
from services.audit.registry import UserRegistry
from services.audit.trail import TrailQuery, query_trail

router = APIRouter(prefix="/v1/audit", tags=["audit"])
SEE_ALL_ROLES = {"auditor", "admin"}


class AuditEventPublic(BaseModel):
    event_id: str
    at: str
    service: str
    user: str
    role: str
    action: str
    resource: str
    filters: dict[str, str]
    plates: list[str]
    row_count: int
    client: str
    outcome: str
    reason: str
    purpose: str
    case_ref: str


class AuditEventsPublic(BaseModel):
    count: int
    events: list[AuditEventPublic]


def trail_query(
    user: str | None = Query(None, max_length=64),
    action: str | None = Query(None, max_length=100),
    plate: str | None = Query(None, pattern=r"^[A-Z0-9]{1,10}$"),
    outcome: str | None = Query(None, pattern=r"^(allowed|denied|error)$"),
    purpose: str | None = Query(
        None, pattern=r"^[a-z][a-z0-9-]{0,49}$", description="the stated purpose (alpr.purposes)"
    ),
    time_from: datetime | None = Query(None, alias="from"),
    time_to: datetime | None = Query(None, alias="to"),
    limit: int = Query(1000, ge=1, le=10_000),
) -> TrailQuery:
    return TrailQuery(user, action, plate, outcome, purpose, time_from, time_to, limit)


TrailDep = Annotated[TrailQuery, Depends(trail_query)]


def scoped(access: Access, q: TrailQuery, registry: UserRegistry) -> TrailQuery:
    if access.principal.role in SEE_ALL_ROLES:
        return q
    staff = set(registry.staff_of(access.principal.user))
    if q.user is None:
        return TrailQuery(**{**vars(q), "users": tuple(sorted(staff)) or ("\x00",)})
    if q.user not in staff:
        raise HTTPException(403, f"{q.user} is not on your staff")
    return q


def _rows(access: Access, q: TrailQuery, registry: UserRegistry, store, fmt: str):
    q = scoped(access, q, registry)
    rows = query_trail(store, q)
    filters = q.filters() | ({"format": fmt} if fmt != "json" else {})
    access.served(filters=filters, plates=[q.plate] if q.plate else [], row_count=len(rows))
    return rows


@router.get("/events", response_model=AuditEventsPublic)
def events(access: AuditRead, q: TrailDep, registry: RegistryDep, store: StoreDep) -> AuditEventsPublic:
    rows = _rows(access, q, registry, store, "json")
    return AuditEventsPublic(count=len(rows), events=[AuditEventPublic(**r) for r in rows])


@router.get("/events.csv")
def events_csv(access: AuditRead, q: TrailDep, registry: RegistryDep, store: StoreDep) -> Response:
    rows = _rows(access, q, registry, store, "csv")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(AuditEventPublic.model_fields))
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {**r, "filters": "; ".join(f"{k}={v}" for k, v in r["filters"].items()), "plates": " ".join(r["plates"])}
        )
    return Response(
        out.getvalue(), media_type="text/csv", headers={"Content-Disposition": "attachment; filename=audit.csv"}
    )
