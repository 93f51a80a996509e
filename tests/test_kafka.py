"""The shared Kafka plumbing against the real broker: batch consume, commit after write, DLQ, topics apply."""

from __future__ import annotations

import threading

import pytest

from alpr.contracts.registry import Topic, load_registry
from alpr.kafka.config import client_config
from alpr.kafka.consumer import BatchConsumer
from alpr.kafka.topics import apply_topics
from tests.support.kafka import committed, drain, produce_all

pytestmark = pytest.mark.kafka


def test_batch_consumer_writes_then_commits_and_dead_letters_bad_messages(bootstrap, topic_factory, unique):
    # A registry topic (under the test's prefix): its DLQ is the one the registry names.
    topic = topic_factory(Topic.READS, partitions=3)
    dlq = topic_factory(Topic.READS_DLQ)
    good = [(f"k{i}".encode(), str(i).encode()) for i in range(40)]
    bad = [(b"bad", b"not-a-number"), (b"bad2", b"\xff\xfe")]
    produce_all(bootstrap, topic, good + bad)

    written: list[int] = []
    group = f"test-{unique}"
    consumer = BatchConsumer(
        service="test",
        topics=[topic],
        group_id=group,
        bootstrap=bootstrap,
        process=lambda m: int(m.value().decode()),
        write=lambda values, producer: written.extend(values),
        max_batch=10,
        max_wait_s=0.5,
        topic_prefix=f"test.{unique}.",
    )
    handled = 0
    try:
        while handled < len(good) + len(bad):
            handled += consumer.handle(consumer.poll_batch()).consumed
    finally:
        consumer.close()

    assert sorted(written) == list(range(40))
    offsets = committed(bootstrap, group, topic, 3)
    assert sum(offsets.values()) == len(good) + len(bad)  # every message, bad ones included, committed once
    dead = drain(bootstrap, dlq, 2, f"dlq-{unique}")
    assert sorted(m.value() for m in dead) == sorted(v for _, v in bad)
    headers = dict(dead[0].headers())
    assert headers["dlq.source_topic"] == topic.encode() and headers["dlq.service"] == b"test"
    reasons = [dict(m.headers())["dlq.reason"].decode() for m in dead]
    assert all("ValueError" in r or "UnicodeDecodeError" in r for r in reasons)


def test_failed_write_is_retried_and_nothing_is_committed_before_it_succeeds(bootstrap, topic_factory, unique):
    topic = topic_factory("retry.v1")
    produce_all(bootstrap, topic, [(b"k", b"1"), (b"k", b"2")])
    attempts = {"n": 0}
    written = []
    group = f"test-{unique}"

    def flaky_write(values, producer):
        attempts["n"] += 1
        if attempts["n"] < 3:
            # Nothing may be committed while the store is away.
            assert committed(bootstrap, group, topic, 1)[0] < 0
            raise ConnectionError("store away")
        written.extend(values)

    consumer = BatchConsumer(
        service="test",
        topics=[topic],
        group_id=group,
        bootstrap=bootstrap,
        process=lambda m: int(m.value()),
        write=flaky_write,
        max_wait_s=0.5,
        topic_prefix=f"test.{unique}.",
    )
    try:
        handled = 0
        while handled < 2:
            handled += consumer.handle(consumer.poll_batch(), threading.Event()).consumed
    finally:
        consumer.close()
    assert attempts["n"] == 3 and sorted(written) == [1, 2]
    assert committed(bootstrap, group, topic, 1)[0] == 2


def test_topics_apply_is_idempotent(bootstrap, unique):
    prefix = f"test.{unique}."
    first = apply_topics(bootstrap, prefix=prefix)
    assert {c.action for c in first} == {"created"}
    assert len(first) == len(load_registry())
    # One broker holds one copy: the registry's production replication is capped, and said so.
    assert (first.brokers, first.capped) == (1, ["replication_factor 3->1", "min.insync.replicas 2->1"])
    second = apply_topics(bootstrap, prefix=prefix)
    assert {c.action for c in second} == {"unchanged"}, [c for c in second if c.action != "unchanged"]

    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(bootstrap))
    meta = admin.list_topics(timeout=10)
    assert len(meta.topics[Topic.FRAMES.on(prefix)].partitions) == 12
    assert len(meta.topics[Topic.READS.on(prefix)].partitions) == 12
    for f in admin.delete_topics([c.topic for c in first]).values():
        f.result(timeout=30)


def test_every_producer_partitions_keys_as_faust_and_the_java_client_do(bootstrap, topic_factory):
    """One partitioner (murmur2): a facility's reads land where occupancy expects them
    (`partition_of`), and a plate's payments where faust's re-key topic puts the plate."""
    from aiokafka.partitioner import DefaultPartitioner
    from confluent_kafka import Producer

    from alpr.kafka.config import producer_config
    from services.occupancy.stream import partition_of

    topic = topic_factory(Topic.READS, partitions=12)
    keys = [f"garage-{i}" for i in range(40)]
    landed: dict[str, int] = {}
    producer = Producer(producer_config(bootstrap, "partitioner-test"))
    for key in keys:
        producer.produce(
            topic,
            key=key.encode(),
            value=b"{}",
            on_delivery=lambda err, msg: landed.__setitem__(msg.key().decode(), msg.partition()),
        )
    assert producer.flush(30) == 0
    faust_side = DefaultPartitioner()
    for key in keys:
        assert landed[key] == partition_of(key, 12) == faust_side(key.encode(), list(range(12)), list(range(12)))
    assert len(set(landed.values())) > 6  # spread, not one partition


def test_an_effect_is_retried_with_the_one_backoff_until_it_succeeds(caplog):
    import asyncio
    import itertools
    import logging

    from alpr.retry import backoffs, until_done

    assert list(itertools.islice(backoffs(), 8)) == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]
    tries = []

    async def flaky() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError("store away")
        return "written"

    log = logging.getLogger("test.retry")
    with caplog.at_level(logging.WARNING, logger="test.retry"):
        assert asyncio.run(until_done(flaky, log, "write failed; retrying", {"effect": "rows"})) == "written"
    assert len(tries) == 3
    warnings = [r for r in caplog.records if r.name == "test.retry"]
    assert [(r.effect, r.backoff_s, r.error) for r in warnings] == [
        ("rows", 0.2, "ConnectionError: store away"),
        ("rows", 0.4, "ConnectionError: store away"),
    ]
