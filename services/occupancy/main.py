"""The occupancy service: one process runs the faust app, the holds consumer, the token
revocations feed and the API, hosted by `alpr.runtime.serve` as every service is.

chDB serves one data directory per process, and the API answers from the same store and the
same live board as the stream: the API runs on the faust worker's event loop, the shared
confluent-kafka consumers in threads (`Workers`).
"""

from __future__ import annotations

import logging

from alpr.audit import AuditClient
from alpr.contracts.registry import Topic
from alpr.errors import ConfigError
from alpr.holds import HeldTable, HoldKeeper, holds_consumer
from alpr.kafka import security as kafka_security
from alpr.kafka.topics import ensure_internal_topics, faust_changelogs, replication_of
from alpr.revocations import RevocationFeed
from alpr.runtime import Workers, serve
from alpr.store import Store, open_api_store, open_service_store
from services.occupancy.board import Board
from services.occupancy.facilities import Facility, load_facilities
from services.occupancy.settings import OccupancySettings
from services.occupancy.stream import SERVICE, OccupancyStream

log = logging.getLogger(__name__)

HELD_TABLES = [HeldTable("passes", "plate", "first_seen"), HeldTable("occupancy_history", None, "as_of")]


def open_occupancy_store(settings: OccupancySettings) -> Store:
    """The service's store, brought up to date (chDB) or checked against the migrations (a server
    with the service's own least-privilege login: `alpr db migrate` ran them)."""
    from alpr.store.migrate import prepare_service_store

    store = open_service_store(SERVICE, settings)
    prepare_service_store(SERVICE, store, settings)
    return store


def source_partitions(bootstrap: str, topic: str) -> int:
    """Partitions of the reads topic; it must exist (auto-creation is off: `alpr topics apply`)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from alpr.kafka.config import admin_config

    try:
        metadata = AdminClient(admin_config(bootstrap)).list_topics(topic, timeout=15)
    except KafkaException as err:
        raise ConfigError(f"cannot reach Kafka at {bootstrap}: {err.args[0].str()}") from None
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise ConfigError(f"topic {topic} does not exist; create it with `alpr topics apply`")
    return len(found.partitions)


def check_codecs() -> None:
    """Every ALPR producer compresses with lz4 (alpr.kafka.config); aiokafka reads lz4 only with
    cramjam installed, and without it the worker crashes on the first fetch. Say so at start."""
    from aiokafka.codec import has_lz4

    if not has_lz4():
        raise ConfigError("aiokafka cannot decompress lz4 (the platform's producer compression): install cramjam")


class Components:
    """Everything the service runs, built from settings (tests build the same thing)."""

    def __init__(self, settings: OccupancySettings, audit: AuditClient | None = None) -> None:
        from services.occupancy.api import build_app

        self.settings = settings
        prefix = settings.topic_prefix
        self.facilities: dict[str, Facility] = load_facilities(settings.cameras_file)
        partitions = source_partitions(settings.kafka_bootstrap, Topic.READS.on(prefix))
        replication = replication_of(settings.kafka_bootstrap, Topic.READS.on(prefix))
        self.store = open_occupancy_store(settings)
        self.api_store = open_api_store(SERVICE, settings, self.store)  # read-only login on a server
        self.keeper = HoldKeeper(self.store, HELD_TABLES)
        self.board = Board(self.facilities)
        self.stream = OccupancyStream(
            settings, self.facilities, self.store, self.keeper, self.board, partitions, prefix, replication=replication
        )
        ensure_internal_topics(settings.kafka_bootstrap, faust_changelogs(self.stream.app), replication)
        self.workers = Workers()
        self.workers.start(
            "holds",
            holds_consumer(
                SERVICE,
                settings.kafka_bootstrap,
                self.keeper,
                topic_prefix=prefix,
                group_id=f"{prefix}alpr-{SERVICE}-holds",
            ).run,
        )
        # Token revocations: the API refuses data until this has read the whole topic.
        self.revocations = RevocationFeed(SERVICE, settings.kafka_bootstrap, topic_prefix=prefix)
        self.workers.start("revocations", self.revocations.run)
        self.audit = audit or AuditClient(settings.kafka_bootstrap, SERVICE, topic=Topic.AUDIT.on(prefix))
        self.api = build_app(self)

    def close(self) -> None:
        # Refused requests are audited without waiting (alpr.http); send what is queued.
        self.audit.close()
        if self.api_store is not self.store:
            self.api_store.close()
        self.store.close()


def run(settings: OccupancySettings) -> int:
    """Run until SIGTERM/SIGINT (alpr.runtime.serve); returns the exit code."""
    from alpr.settings import ensure_port_free

    # Every Kafka client of this process authenticates as this service (TLS, SCRAM: alpr.kafka.security).
    kafka_security.configure(settings)
    ensure_port_free(settings.http_host, settings.http_port)
    check_codecs()
    parts = Components(settings)
    return serve(
        parts.api,
        parts.workers,
        settings.http_host,
        settings.http_port,
        settings.log_level,
        stream=parts.stream.app,
        before_api_stop=[parts.board.close],  # ends live streams, so that the API stops at once
        on_stop=[parts.close],
        trusted_proxies=settings.trusted_proxies,
    )
