"""The ingest service: camera feeds in worker threads, the upload API, one publisher.

Routes (besides /healthz and /metrics; in routes/):

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
from datetime import datetime

from fastapi import FastAPI

from alpr.audit import AuditClient
from alpr.cameras import Camera, Registry, load_registry
from alpr.contracts.registry import Topic
from alpr.http import create_app, install_auth
from alpr.kafka import security as kafka_security
from alpr.revocations import RevocationFeed
from alpr.runtime import Workers
from services.ingest import metrics
from services.ingest.feed import Backoff, Encoding, Feed
from services.ingest.publisher import FRAMES_TOPIC, Publisher
from services.ingest.routes import frames, sources
from services.ingest.selection import Selector
from services.ingest.settings import IngestSettings

log = logging.getLogger(__name__)

SERVICE = metrics.SERVICE


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
    settings, publisher = service.settings, service.publisher
    app = create_app(
        SERVICE,
        checks={
            "kafka": publisher.kafka_ok,
            "workers": service.workers.alive,
            "revocations": service.revocations.ready,
        },
    )
    install_auth(
        app, auth_secret=settings.auth_secret.get_secret_value(), audit=service.audit, revocations=service.revocations
    )
    app.state.service = service
    app.include_router(frames.router)
    app.include_router(sources.router)
    return app


def run(settings: IngestSettings) -> int:
    """The ingest service until SIGTERM: the camera feeds and the upload API (alpr.runtime.serve).
    Accepted frames are delivered (`IngestService.close`) once the API and the feeds stopped."""
    from alpr.runtime import serve
    from alpr.settings import ensure_port_free

    # Every Kafka client of this process authenticates as this service (TLS, SCRAM: alpr.kafka.security).
    kafka_security.configure(settings)
    ensure_port_free(settings.http_host, settings.http_port)
    service = build_service(settings, topic_prefix=settings.topic_prefix)
    try:
        service.start_feeds()
    except BaseException:
        service.close()
        raise
    assert service.app is not None
    return serve(
        service.app,
        service.workers,
        settings.http_host,
        settings.http_port,
        settings.log_level,
        on_stop=[service.close],
        trusted_proxies=settings.trusted_proxies,
    )
