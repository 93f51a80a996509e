"""`GET /v1/sources`: every camera's source state and the queue; operational data only (services/ingest/main.py)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from alpr.redact import without_credentials
from services.ingest.deps import ServiceDep, SourcesRead
from services.ingest.sources import SourceStatus

router = APIRouter(tags=["operations"])


class SourcePublic(BaseModel):
    camera_id: str
    kind: str
    source: str | None
    state: str
    failures: int
    reconnects: int
    retry_in_s: float | None
    last_error: str | None
    frames_seen: int
    frames_selected: int
    errors: int
    last_frame_at: datetime | None
    counts: dict[str, int]


class SourcesPublic(BaseModel):
    sources: list[SourcePublic]
    queue_frames: int
    stream_buffer_frames: int


@router.get("/v1/sources", response_model=SourcesPublic)
def list_sources(service: ServiceDep, access: SourcesRead) -> SourcesPublic:
    registry, publisher = service.registry, service.publisher
    statuses = [feed.status for feed in service.feeds]
    statuses += [
        SourceStatus(c.camera_id, "upload", None, state="push")
        for c in registry.cameras
        if c.accepts_uploads and not c.source
    ]
    access.served(row_count=len(statuses), wait=False)
    return SourcesPublic(
        sources=[_public(s) for s in statuses],
        queue_frames=publisher.in_flight,
        stream_buffer_frames=publisher.buffered,
    )


def _public(status: SourceStatus) -> SourcePublic:
    # The feed already shows its source without credentials; an error message may quote the
    # URL it failed to open, so every text leaving here is cleaned once more.
    fields = vars(status) | {
        "source": without_credentials(status.source),
        "last_error": without_credentials(status.last_error),
    }
    return SourcePublic(**fields)
