"""The governance service: users and login, the audit sink (alpr.audit.v1 -> ClickHouse), the
auditors' API, legal holds, and the public transparency page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from fastapi import FastAPI

from alpr.audit import AuditClient
from alpr.contracts.registry import Topic
from alpr.http import create_app, install_auth
from alpr.kafka import security as kafka_security
from alpr.kafka.consumer import BatchConsumer
from alpr.purposes import load_purposes
from alpr.revocations import RevocationSet
from alpr.runtime import Workers
from alpr.store import Store, open_api_store, open_service_store
from services.audit import metrics
from services.audit.holdbook import HoldBook
from services.audit.login import LoginService
from services.audit.processor import audit_row
from services.audit.registry import UserRegistry
from services.audit.releases import ReleaseBook
from services.audit.revocations import RevocationBook
from services.audit.routes import auth, console, holds, public, releases, trail, users
from services.audit.settings import AuditSettings

SERVICE = "audit"


def store_events(store: Store, rows: list[dict]) -> None:
    store.insert("audit_log", rows)
    for row in rows:  # counted once stored: a failed write is retried, not counted twice
        metrics.EVENTS_STORED.labels(row["service"], row["outcome"]).inc()


def build_consumer(
    settings: AuditSettings, store: Store, topic_prefix: str = "", group_id: str | None = None
) -> BatchConsumer:
    return BatchConsumer(
        service=SERVICE,
        topics=[Topic.AUDIT.on(topic_prefix)],
        # Under the topic prefix like every group: the ACLs grant `<prefix>alpr-audit*` to the sink.
        group_id=group_id or f"{topic_prefix}alpr-audit-sink",
        bootstrap=settings.kafka_bootstrap,
        process=lambda m: audit_row(m.value()),
        write=lambda rows, producer: store_events(store, rows),
        max_batch=1000,
        max_wait_s=0.2,
        topic_prefix=topic_prefix,
    )


def build_app(
    settings: AuditSettings,
    store: Store,
    workers: Workers,
    audit: AuditClient,
    registry: UserRegistry | None = None,
    topic_prefix: str = "",
    *,
    revocations: RevocationSet,
) -> FastAPI:
    """`revocations`: the service's `RevocationFeed` (started by the caller, like the sink); the
    revocations this service publishes are applied to it at once as well."""
    db = registry.db if registry else settings.governance_db()
    registry = registry or UserRegistry(db)

    def store_ok() -> bool:
        return store.query("SELECT 1 AS ok") == [{"ok": 1}]

    app = create_app(SERVICE, checks={"store": store_ok, "workers": workers.alive, "revocations": revocations.ready})
    install_auth(
        app,
        auth_secret=settings.auth_secret.get_secret_value(),
        audit=audit,
        revocations=revocations,
        purposes=load_purposes(settings.access_purposes_file),
    )
    app.state.settings = settings
    app.state.store = store
    app.state.registry = registry
    app.state.holds = HoldBook(db, settings.kafka_bootstrap, topic=Topic.HOLDS.on(topic_prefix))
    app.state.revocation_book = RevocationBook(
        db, settings.kafka_bootstrap, topic=Topic.REVOCATIONS.on(topic_prefix), applied=revocations
    )
    app.state.login = LoginService(
        registry,
        settings.auth_secret.get_secret_value(),
        audit,
        max_failures=settings.max_failed_logins,
        lockout=timedelta(minutes=settings.lockout_minutes),
        token_ttl=timedelta(minutes=settings.token_ttl_minutes),
    )
    app.state.releases = ReleaseBook(db)
    # The owning services a release package is exported from (tests replace this).
    app.state.release_clients = lambda: {
        name: httpx.Client(base_url=url, timeout=30) for name, url in settings.release_sources.items()
    }
    # The console (routes/console.py): its session cookie is accepted here, and its pages call
    # the other services through one shared client.
    app.state.console_cookie = True
    app.state.console_client = console.console_client()
    for router in (auth.router, users.router, trail.router, holds.router, releases.router, public.router):
        app.include_router(router)
    app.include_router(console.router)
    return app


def open_audit_store(settings: AuditSettings) -> Store:
    """The service's store, brought up to date (chDB) or checked against the migrations (a server
    with the service's own least-privilege login: `alpr db migrate` ran them)."""
    from alpr.store.migrate import prepare_service_store

    store = open_service_store(SERVICE, settings)
    prepare_service_store(SERVICE, store, settings)
    return store


@dataclass
class AuditService:
    """Everything `alpr audit serve` runs (the audit sink, the revocations feed and its sweep,
    the API), owned by one object as in every service: what starts it and in which order, and
    what `close` releases, is written once."""

    settings: AuditSettings
    store: Store
    workers: Workers = field(default_factory=Workers)
    app: FastAPI | None = None
    _closing: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop the workers, send the audit records still queued, close the stores; safe twice."""
        self.workers.shutdown()
        while self._closing:
            self._closing.pop()()


def build_service(settings: AuditSettings, store: Store) -> AuditService:
    """The service on `store` (the writer's login), its consumers started; `close` undoes it."""
    from alpr.revocations import RevocationFeed

    prefix = settings.topic_prefix
    service = AuditService(settings, store)
    service._closing.append(store.close)
    try:
        service.workers.start("audit-sink", build_consumer(settings, store, topic_prefix=prefix).run)
        revocations = RevocationFeed(SERVICE, settings.kafka_bootstrap, topic_prefix=prefix)
        service.workers.start("revocations", revocations.run)
        audit = AuditClient(settings.kafka_bootstrap, SERVICE, topic=Topic.AUDIT.on(prefix))
        # Refused requests are audited without waiting (alpr.http): send what is queued at the end.
        service._closing.append(audit.close)
        api_store = open_api_store(SERVICE, settings, store)  # the API only reads: the read-only login
        if api_store is not store:
            service._closing.append(api_store.close)
        service.app = build_app(
            settings, api_store, service.workers, audit, topic_prefix=prefix, revocations=revocations
        )
        service.workers.start(
            "revocation-sweep", service.app.state.revocation_book.sweeper(settings.revocation_sweep_s)
        )
    except BaseException:
        service.close()
        raise
    return service


def run(settings: AuditSettings) -> int:
    """The governance service until SIGTERM (alpr.runtime.serve), then `AuditService.close`."""
    from alpr.runtime import serve
    from alpr.settings import ensure_port_free

    # Every Kafka client of this process authenticates as this service (TLS, SCRAM: alpr.kafka.security).
    kafka_security.configure(settings)
    ensure_port_free(settings.http_host, settings.http_port)
    service = build_service(settings, open_audit_store(settings))
    assert service.app is not None
    return serve(
        service.app,
        service.workers,
        settings.http_host,
        settings.http_port,
        settings.log_level,
        on_stop=[service.close],
        trusted_proxies=settings.trusted_proxies,
        after_api_stop=[service.app.state.console_client.aclose],
    )
