"""Faults of the infrastructure under a running consumer: the broker restarts, the store goes away.

Each test runs the real audit sink (BatchConsumer -> chDB) because it is the simplest
consumer with an idempotent effect; every other confluent consumer shares its loop.
"""

from __future__ import annotations

import threading

import pytest

from alpr.audit import AuditClient
from alpr.auth import Principal
from alpr.contracts.registry import Topic
from alpr.errors import StoreError
from alpr.kafka.broker import BrokerSettings, LocalBroker
from alpr.kafka.topics import apply_topics
from services.audit.main import build_consumer, open_audit_store
from services.audit.settings import AuditSettings
from tests.support.net import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def publish(audit: AuditClient, n: int, start: int) -> None:
    for i in range(start, start + n):
        event = audit.event(
            Principal(f"user{i}", "enforcement", "t", 0), "plate.search", "/v1/passes", outcome="allowed"
        )
        audit.record(event.model_copy(update={"event_id": f"fault:{i}"}))


def stored(store) -> int:
    return int(store.query(f"SELECT count() AS n FROM (SELECT event_id FROM {store.database}.audit_log FINAL)")[0]["n"])


def drain_until(consumer, store, n: int, rounds: int = 200) -> None:
    for _ in range(rounds):
        consumer.handle(consumer.poll_batch(), threading.Event())
        if stored(store) >= n:
            return


def test_broker_restart_mid_stream_loses_and_doubles_nothing(tmp_path, plaintext_kafka):
    """On a development broker of its own (plaintext), stopped and started between batches."""
    port = free_port()
    broker = LocalBroker(
        BrokerSettings(
            kafka_bootstrap=f"127.0.0.1:{port}",
            kafka_controller_port=free_port(),
            data_dir=tmp_path / "broker",
            kafka_heap="256m",
        )
    )
    broker.start()
    try:
        bootstrap = broker.bootstrap
        apply_topics(bootstrap)
        settings = AuditSettings(kafka_bootstrap=bootstrap, data_dir=tmp_path / "svc", environment="test")
        store = open_audit_store(settings)
        consumer = build_consumer(settings, store, group_id="fault-audit")
        audit = AuditClient(bootstrap, "probe", timeout_s=20)
        try:
            publish(audit, 30, 0)
            drain_until(consumer, store, 30)
            assert stored(store) == 30

            broker.stop()  # the broker goes away between batches...
            broker.start()  # ...and comes back with its data (same KRaft log dirs)
            publish(audit, 30, 30)  # the producer reconnects by itself
            drain_until(consumer, store, 60)
            assert stored(store) == 60
            # Nothing committed was lost, nothing is counted twice.
            assert store.query(f"SELECT count() AS n FROM {store.database}.audit_log FINAL")[0]["n"] in (60, "60")
        finally:
            consumer.close()
            store.close()
    finally:
        broker.stop()


def test_store_away_pauses_and_retries_the_batch_until_it_is_back(tmp_path, bootstrap, topic_factory, unique):
    topic = topic_factory(Topic.AUDIT)
    topic_factory(Topic.AUDIT_DLQ)
    prefix = topic[: -len(Topic.AUDIT)]
    settings = AuditSettings(kafka_bootstrap=bootstrap, data_dir=tmp_path, environment="test")
    store = open_audit_store(settings)
    audit = AuditClient(bootstrap, "probe", topic=topic)
    publish(audit, 20, 0)

    class FlakyStore:
        """The real store, refusing writes for the first attempts (a ClickHouse server away)."""

        def __init__(self, store, failures):
            self.store, self.failures, self.database = store, failures, store.database

        def insert(self, table, rows):
            if self.failures:
                self.failures -= 1
                raise StoreError("ClickHouse insert failed: Connection refused")
            return self.store.insert(table, rows)

    flaky = FlakyStore(store, failures=4)
    consumer = build_consumer(settings, flaky, topic_prefix=prefix, group_id=f"flaky-{unique}")
    try:
        drain_until(consumer, store, 20)
        assert flaky.failures == 0 and stored(store) == 20
    finally:
        consumer.close()
        store.close()
