"""The governance service: the audit sink (alpr.audit.v1 -> ClickHouse) and the auditors' API."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Query
from fastapi.responses import Response
from pydantic import BaseModel

from alpr.audit import AuditClient
from alpr.http import Access, Guard, create_app, install_auth
from alpr.kafka.consumer import BatchConsumer
from alpr.roles import Permission
from alpr.runtime import Workers
from alpr.store import Store, open_store
from services.audit.processor import audit_row
from services.audit.settings import AuditSettings
from services.audit.trail import TrailQuery, query_trail

SERVICE = "audit"
AuditRead = Annotated[Access, Depends(Guard(Permission.AUDIT_READ, "audit.query"))]


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


class AuditEventsPublic(BaseModel):
    count: int
    events: list[AuditEventPublic]


def trail_query(
    user: str | None = None,
    action: str | None = None,
    plate: str | None = Query(None, pattern=r"^[A-Z0-9]{1,10}$"),
    outcome: str | None = Query(None, pattern=r"^(allowed|denied|error)$"),
    time_from: datetime | None = Query(None, alias="from"),
    time_to: datetime | None = Query(None, alias="to"),
    limit: int = Query(1000, ge=1, le=10_000),
) -> TrailQuery:
    return TrailQuery(user, action, plate, outcome, time_from, time_to, limit)


def build_consumer(settings: AuditSettings, store: Store, topic_prefix: str = "", group_id: str = "alpr-audit-sink") -> BatchConsumer:
    return BatchConsumer(
        service=SERVICE,
        topics=[f"{topic_prefix}alpr.audit.v1"],
        group_id=group_id,
        bootstrap=settings.kafka_bootstrap,
        process=lambda m: audit_row(m.value()),
        write=lambda rows, producer: store.insert("audit_log", rows),
        max_batch=1000,
        max_wait_s=0.2,
        topic_prefix=topic_prefix,
    )


def build_app(settings: AuditSettings, store: Store, workers: Workers, audit: AuditClient) -> FastAPI:
    def store_ok() -> bool:
        return store.query("SELECT 1 AS ok") == [{"ok": 1}]

    app = create_app(SERVICE, checks={"store": store_ok, "workers": workers.alive})
    install_auth(app, auth_secret=settings.auth_secret.get_secret_value(), audit=audit)

    @app.get("/v1/audit/events", response_model=AuditEventsPublic, tags=["audit"])
    def events(access: AuditRead, q: Annotated[TrailQuery, Depends(trail_query)]) -> AuditEventsPublic:
        rows = query_trail(store, q)
        access.served(filters=q.filters(), plates=[q.plate] if q.plate else [], row_count=len(rows))
        return AuditEventsPublic(count=len(rows), events=[AuditEventPublic(**r) for r in rows])

    @app.get("/v1/audit/events.csv", tags=["audit"])
    def events_csv(access: AuditRead, q: Annotated[TrailQuery, Depends(trail_query)]) -> Response:
        rows = query_trail(store, q)
        access.served(filters={**q.filters(), "format": "csv"}, plates=[q.plate] if q.plate else [], row_count=len(rows))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(AuditEventPublic.model_fields))
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "filters": "; ".join(f"{k}={v}" for k, v in r["filters"].items()), "plates": " ".join(r["plates"])})
        return Response(out.getvalue(), media_type="text/csv", headers={"Content-Disposition": "attachment; filename=audit.csv"})

    return app


def open_audit_store(settings: AuditSettings) -> Store:
    from alpr.store.cli import migrate_service

    store = open_store(SERVICE, clickhouse_url=settings.clickhouse_url, data_dir=settings.data_dir)
    migrate_service(SERVICE, store)
    return store
