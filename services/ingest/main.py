"""The ingest service: camera feeds in worker threads, the upload API, one publisher.

Routes (besides /healthz and /metrics):

- `POST /v1/frames` — a camera pushes one JPEG. Headers: `X-Camera-Id`, `Authorization:
  Bearer <camera upload token>`, `Content-Type: image/jpeg`, optional `X-Captured-At`
  (RFC 3339; default: arrival time). Answers 201 only after Kafka acknowledged the frame;
  503 + Retry-After when Kafka cannot take it (the camera sends it again); 4xx for bad input.
  Uploads bypass frame selection: a pushing camera already chose its frames.
- `GET /v1/sources` — every camera's source state (streaming, backoff with the next retry,
  finished, failed with the reason) and the queue. Operational data only: no frames, no
  plates, and stream URLs without their credentials (in `source` and in `last_error`). Needs a
  login with `sources.read` (operations, maintenance, management, administrators); audited
  without waiting for Kafka, so it still answers during a broker outage (and refuses the
  revoked tokens it knows of, even before it has read every revocation).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from pydantic import BaseModel

from alpr.audit import AuditClient
from alpr.cameras import Camera, Registry, load_registry, parse_time
from alpr.contracts.models import utc_iso
from alpr.contracts.registry import Topic
from alpr.http import Access, Guard, create_app, install_auth
from alpr.redact import without_credentials
from alpr.revocations import RevocationFeed
from alpr.roles import Permission
from alpr.runtime import Workers
from services.ingest import metrics
from services.ingest.feed import Backoff, Encoding, Feed
from services.ingest.frame import BadImage, Frame, FrameTooLarge, check_jpeg, shrink_jpeg
from services.ingest.publisher import FRAMES_TOPIC, Publisher, QueueFull
from services.ingest.selection import Selector
from services.ingest.settings import IngestSettings
from services.ingest.sources import SourceStatus

log = logging.getLogger(__name__)

SERVICE = metrics.SERVICE
# A camera clock this far ahead is wrong, and a future capture time would confuse every
# time-ordered consumer downstream (occupancy, sessions).
MAX_FUTURE_SKEW = timedelta(minutes=5)


class FramePublic(BaseModel):
    frame_id: str
    topic: str
    partition: int
    offset: int
    captured_at: str


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


@dataclass
class IngestService:
    """Everything `alpr ingest serve` runs; tests build one with a topic prefix and drive it directly."""

    settings: IngestSettings
    registry: Registry
    publisher: Publisher
    feeds: list[Feed]
    audit: AuditClient
    revocations: RevocationFeed
    workers: Workers = field(default_factory=Workers)
    app: FastAPI | None = None

    def start_feeds(self) -> None:
        for feed in self.feeds:
            self.workers.start(f"feed-{feed.camera.camera_id}", _keep_alive(feed))

    def close(self) -> None:
        """Stop the feeds, then deliver what was accepted; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.workers.shutdown()
        undelivered = self.publisher.close(self.settings.delivery_timeout_s)
        self.audit.close()  # records made without waiting (refusals, source views) are sent now
        log.info("ingest stopped", extra={"undelivered": undelivered})

    def __post_init__(self) -> None:
        self._closed = False


def _keep_alive(feed: Feed):
    # A file source ends, and a corrupt one fails, as a normal part of operation (the state is
    # in /v1/sources); the worker stays alive so that /healthz reports only real crashes.
    def run(stop: threading.Event) -> None:
        feed.run(stop)
        stop.wait()

    return run


def build_service(
    settings: IngestSettings,
    registry: Registry | None = None,
    topic_prefix: str = "",
    producer_extra: dict | None = None,
    audit: AuditClient | None = None,
) -> IngestService:
    registry = registry or load_registry(settings.cameras_file)
    publisher = Publisher(
        settings.kafka_bootstrap,
        f"{topic_prefix}{FRAMES_TOPIC}",
        queue_frames=settings.queue_frames,
        buffer_frames=settings.stream_buffer_frames,
        delivery_timeout_s=settings.delivery_timeout_s,
        replay_delivery_timeout_s=settings.replay_delivery_timeout_s,
        producer_extra=producer_extra,
    ).start()
    feeds = [make_feed(settings, registry, camera, publisher) for camera in registry.cameras if camera.source]
    audit = audit or AuditClient(settings.kafka_bootstrap, SERVICE, topic=Topic.AUDIT.on(topic_prefix))
    revocations = RevocationFeed(SERVICE, settings.kafka_bootstrap, topic_prefix=topic_prefix)
    service = IngestService(settings, registry, publisher, feeds, audit, revocations)
    service.workers.start("revocations", revocations.run)
    service.app = build_app(service)
    return service


def make_feed(
    settings: IngestSettings,
    registry: Registry,
    camera: Camera,
    publisher: Publisher,
    select: bool = True,
    start: datetime | None = None,
) -> Feed:
    selector = Selector(camera, settings.motion_threshold, settings.motion_hold_s) if select else None
    return Feed(
        camera,
        publisher,
        selector,
        encoding=Encoding(settings.jpeg_quality, settings.max_frame_bytes),
        backoff=Backoff(settings.reconnect_initial_s, settings.reconnect_max_s),
        base_dir=registry.base_dir,
        start=start,
        stream_timeout_s=settings.stream_open_timeout_s,
    )


def build_app(service: IngestService) -> FastAPI:
    settings, registry, publisher = service.settings, service.registry, service.publisher
    app = create_app(
        SERVICE,
        checks={
            "kafka": publisher.kafka_ok,
            "workers": service.workers.alive,
            "revocations": service.revocations.ready,
        },
    )
    # uvicorn re-raises SIGTERM after its shutdown, which ends the process before the code after
    # `run_service` runs: the shutdown hook is where accepted frames get flushed.
    app.router.on_shutdown.append(service.close)
    install_auth(
        app, auth_secret=settings.auth_secret.get_secret_value(), audit=service.audit, revocations=service.revocations
    )
    busy_headers = {"Retry-After": str(settings.upload_retry_after_s)}

    def refuse(status: int, reason: str, camera_id: str | None, headers: dict | None = None) -> HTTPException:
        metrics.count("upload", "busy" if status == 503 else "rejected")
        log.info("upload refused", extra={"camera": camera_id, "status": status, "reason": reason})
        return HTTPException(status, reason, headers=headers)

    @app.post("/v1/frames", status_code=201, response_model=FramePublic, tags=["frames"])
    async def upload_frame(
        request: Request,
        x_camera_id: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
        x_captured_at: Annotated[str | None, Header()] = None,
        content_type: Annotated[str | None, Header()] = None,
        content_length: Annotated[int | None, Header()] = None,
    ) -> FramePublic:
        received_at = datetime.now(UTC)
        camera = _authenticate(registry, x_camera_id, authorization, refuse)
        if content_length is not None and content_length > settings.upload_max_bytes:
            raise refuse(
                413,
                f"body of {content_length} bytes exceeds the {settings.upload_max_bytes}-byte limit",
                camera.camera_id,
            )
        if (content_type or "").split(";")[0].strip().lower() != "image/jpeg":
            raise refuse(415, "Content-Type must be image/jpeg", camera.camera_id)
        try:
            captured_at = parse_time(x_captured_at) if x_captured_at else received_at
        except ValueError:
            raise refuse(400, "X-Captured-At must be an RFC 3339 time with a zone", camera.camera_id) from None
        if captured_at > received_at + MAX_FUTURE_SKEW:
            raise refuse(
                400, "X-Captured-At is more than 5 minutes in the future: check the camera's clock", camera.camera_id
            )
        body = await _read_limited(request, settings.upload_max_bytes)
        if body is None:
            raise refuse(413, f"body exceeds the {settings.upload_max_bytes}-byte limit", camera.camera_id)
        if not body:
            raise refuse(400, "empty body: send the JPEG bytes", camera.camera_id)
        try:
            # Decoding costs milliseconds of CPU: keep it off the event loop.
            jpeg = await anyio.to_thread.run_sync(_prepare, body, settings.jpeg_quality, settings.max_frame_bytes)
        except BadImage as err:
            raise refuse(400, str(err), camera.camera_id) from None
        except FrameTooLarge as err:
            raise refuse(413, str(err), camera.camera_id) from None
        frame = Frame(camera, captured_at, jpeg, ingested_at=received_at)
        try:
            delivery = await publisher.publish_confirmed(frame)
        except QueueFull as err:
            raise refuse(503, f"Kafka is not keeping up ({err}); retry later", camera.camera_id, busy_headers) from None
        if not delivery.ok:
            raise HTTPException(503, f"frame not stored: {delivery.error}; retry later", headers=busy_headers)
        return FramePublic(
            frame_id=frame.frame_id,
            topic=publisher.topic,
            partition=delivery.partition,
            offset=delivery.offset,
            captured_at=utc_iso(frame.captured_at),
        )

    @app.get("/v1/sources", response_model=SourcesPublic, tags=["operations"])
    def sources(
        access: Annotated[Access, Depends(Guard(Permission.SOURCES_READ, "sources.read", operational=True))],
    ) -> SourcesPublic:
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

    return app


def _public(status: SourceStatus) -> SourcePublic:
    # The feed already shows its source without credentials; an error message may quote the
    # URL it failed to open, so every text leaving here is cleaned once more.
    fields = vars(status) | {
        "source": without_credentials(status.source),
        "last_error": without_credentials(status.last_error),
    }
    return SourcePublic(**fields)


def _authenticate(registry: Registry, camera_id: str | None, authorization: str | None, refuse) -> Camera:
    if not camera_id:
        raise refuse(400, "X-Camera-Id header is required", None)
    camera = registry.camera(camera_id)
    if camera is None:
        raise refuse(404, f"unknown camera {camera_id[:100]}", None)
    if not camera.accepts_uploads:
        raise refuse(403, f"camera {camera_id} has no upload token configured", camera_id)
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not camera.token_matches(token.strip()):
        raise refuse(401, "missing or wrong camera upload token", camera_id, {"WWW-Authenticate": "Bearer"})
    return camera


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` (chunked uploads carry no length)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _prepare(body: bytes, quality: int, max_bytes: int) -> bytes:
    check_jpeg(body)
    return shrink_jpeg(body, quality, max_bytes)


def run(settings: IngestSettings) -> int:
    """The ingest service until SIGTERM: the camera feeds and the upload API (alpr.runtime.run_service)."""
    from alpr.runtime import run_service
    from alpr.settings import ensure_port_free

    ensure_port_free(settings.http_host, settings.http_port)
    service = build_service(settings, topic_prefix=settings.topic_prefix)
    try:
        service.start_feeds()
        run_service(service.app, service.workers, settings.http_host, settings.http_port, settings.log_level)
    finally:
        service.close()
    return 0
