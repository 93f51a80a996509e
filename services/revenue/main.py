"""The revenue service: the faust stream application, its API and the legal-hold consumer in
one process (chDB serves one data directory per process).

`run(settings)` is what `alpr revenue serve` runs, hosted by `alpr.runtime.serve` as every
service is: SIGTERM (or Ctrl-C) stops the API, then the hold consumer and the token
revocations feed, then the agents after their current batch; then the store is closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI

from alpr.audit import AuditClient
from alpr.contracts.registry import Topic
from alpr.errors import AlprError
from alpr.holds import HoldKeeper, holds_consumer
from alpr.http import create_app, install_auth
from alpr.kafka import security as kafka_security
from alpr.kafka.topics import InternalTopic, ensure_internal_topics, faust_changelogs, replication_of
from alpr.purposes import load_purposes
from alpr.release import release_router
from alpr.revocations import RevocationFeed, RevocationSet
from alpr.runtime import Workers, serve
from alpr.store import Store, open_api_store, open_service_store
from services.revenue.accuracy import watch as accuracy_watch
from services.revenue.custody import CustodyLog
from services.revenue.decisions import ReviewDesk
from services.revenue.payments import PaymentCheck, PaymentPublisher
from services.revenue.release import export_release
from services.revenue.settings import RevenueSettings
from services.revenue.stream import SERVICE, RevenueStream
from services.revenue.tariff import Tariff, load_tariff
from services.revenue.writer import HELD_TABLES

log = logging.getLogger(__name__)


def facilities_of(settings: RevenueSettings) -> frozenset[str]:
    """The facility ids of the camera registry (payments for any other are refused)."""
    from alpr.cameras import load_registry

    return frozenset(f.facility_id for f in load_registry(settings.cameras_file).facilities)


def payment_check(settings: RevenueSettings) -> PaymentCheck:
    from datetime import timedelta

    return PaymentCheck(facilities_of(settings), timedelta(seconds=settings.max_clock_skew_s))


def open_revenue_store(settings: RevenueSettings) -> Store:
    """The service's store, brought up to date (chDB) or checked against the migrations (a server
    with the service's own least-privilege login: `alpr db migrate` ran them)."""
    from alpr.store.migrate import prepare_service_store

    store = open_service_store(SERVICE, settings)
    prepare_service_store(SERVICE, store, settings)
    return store


def partitions_of(bootstrap: str, topic: str) -> int:
    """Partition count of a source topic; the service refuses to start without its topics."""
    from confluent_kafka.admin import AdminClient

    from alpr.kafka.config import admin_config

    meta = AdminClient(admin_config(bootstrap)).list_topics(topic, timeout=10)
    found = meta.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise AlprError(f"topic {topic} does not exist: run `alpr topics apply` (auto topic creation is off)")
    return len(found.partitions)


@dataclass
class Services:
    """Everything `build_app` serves from."""

    settings: RevenueSettings
    store: Store
    tariff: Tariff
    publisher: PaymentPublisher
    revocations: RevocationSet  # the service's RevocationFeed; data routes refuse tokens until it is loaded
    stream: RevenueStream | None = None
    desk: ReviewDesk | None = None  # the review queue's reads and decisions (routes/reviews.py)
    custody: CustodyLog | None = None  # evidence downloads (routes/evidence.py), on the read-write store


def build_app(services: Services, workers: Workers, audit: AuditClient) -> FastAPI:
    from services.revenue.routes import accuracy, evidence, payments, reconciliation, reviews, violations

    def store_ok() -> bool:
        return services.store.query("SELECT 1 AS ok") == [{"ok": 1}]

    checks = {"store": store_ok, "workers": workers.alive, "revocations": services.revocations.ready}
    if services.stream is not None:
        checks["stream"] = services.stream.healthy  # every agent alive (False for good once one died)
        checks["stream_recovered"] = services.stream.recovered  # partitions assigned, tables recovered
    app = create_app(SERVICE, checks=checks)
    install_auth(
        app,
        auth_secret=services.settings.auth_secret.get_secret_value(),
        audit=audit,
        revocations=services.revocations,
        purposes=load_purposes(services.settings.access_purposes_file),
    )
    app.state.services = services
    for router in (
        payments.router,
        reconciliation.router,
        evidence.router,
        reviews.router,
        accuracy.router,
        violations.router,
    ):
        app.include_router(router)
    # Policy section 7: the one bulk export path, open to an approved release's token only.
    app.include_router(release_router(lambda scope: export_release(services.store, scope)))
    return app


def run(settings: RevenueSettings) -> int:
    """Run until SIGTERM/SIGINT (alpr.runtime.serve); returns the exit code."""
    from alpr.settings import ensure_port_free

    # Every Kafka client of this process authenticates as this service (TLS, SCRAM: alpr.kafka.security).
    kafka_security.configure(settings)
    ensure_port_free(settings.http_host, settings.http_port)
    tariff = load_tariff(settings.tariff_file)
    check = payment_check(settings)
    prefix = settings.topic_prefix
    passes_partitions = partitions_of(settings.kafka_bootstrap, Topic.PASSES.on(prefix))
    partitions_of(settings.kafka_bootstrap, Topic.PAYMENTS.on(prefix))
    partitions_of(settings.kafka_bootstrap, Topic.REVIEW_DECISIONS.on(prefix))  # a missing topic: a clear error now
    store = open_revenue_store(settings)
    workers = Workers()
    closing: list = []
    try:
        keeper = HoldKeeper(store, HELD_TABLES)
        stream = RevenueStream(settings, store, tariff, check.facilities, keeper, passes_partitions)
        # Internal topics (re-key topics, table changelogs) are replicated like the passes: 1 on
        # a single broker, 3 on a cluster, where state on one broker would stop the service when
        # that broker goes. Set on the app's conf here because stream.py builds the app with 1.
        replication = replication_of(settings.kafka_bootstrap, Topic.PASSES.on(prefix))
        stream.app.conf.topic_replication_factor = replication
        rekey = [stream.sessions_by_plate, stream.payments_by_plate]
        ensure_internal_topics(
            settings.kafka_bootstrap,
            [InternalTopic(t.get_topic_name(), settings.rekey_partitions) for t in rekey]
            + [InternalTopic(stream.corrections_by_facility.get_topic_name(), passes_partitions)]
            + faust_changelogs(stream.app),
            replication,
        )
        workers.start(
            "holds",
            holds_consumer(
                SERVICE, settings.kafka_bootstrap, keeper, topic_prefix=prefix, group_id=f"{prefix}alpr-{SERVICE}-holds"
            ).run,
        )
        # Policy section 9, live: each camera's rates from the review sample, as Prometheus gauges.
        workers.start(
            "accuracy",
            accuracy_watch(store, timedelta(hours=settings.accuracy_window_h), settings.accuracy_every_s),
        )
        revocations = RevocationFeed(SERVICE, settings.kafka_bootstrap, topic_prefix=prefix)
        workers.start("revocations", revocations.run)
        publisher = PaymentPublisher(settings.kafka_bootstrap, Topic.PAYMENTS.on(prefix), check)
        audit = AuditClient(settings.kafka_bootstrap, SERVICE, topic=Topic.AUDIT.on(prefix))
        # Refused requests are audited without waiting (alpr.http): send what is queued at the end.
        closing.append(audit.close)
        api_store = open_api_store(SERVICE, settings, store)  # the API only reads: the read-only login
        if api_store is not store:
            closing.append(api_store.close)
        desk = ReviewDesk.connect(api_store, settings.kafka_bootstrap, Topic.REVIEW_DECISIONS.on(prefix))
        custody = CustodyLog(store, keeper)
        app = build_app(
            Services(settings, api_store, tariff, publisher, revocations, stream, desk, custody), workers, audit
        )
    except BaseException:
        workers.shutdown(15)
        for close in closing:
            close()
        store.close()
        raise
    return serve(
        app,
        workers,
        settings.http_host,
        settings.http_port,
        settings.log_level,
        stream=stream.app,
        on_stop=[*closing, store.close],
        stop_timeout_s=15,
        trusted_proxies=settings.trusted_proxies,
    )
