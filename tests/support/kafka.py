"""Reading and writing the real broker from a test: produce, drain, committed offsets, audit events."""

from __future__ import annotations

import json

from confluent_kafka import Consumer, Producer, TopicPartition


def produce_all(bootstrap, topic, messages):
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in messages:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def committed(bootstrap, group, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return {
            tp.partition: tp.offset
            for tp in c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
        }
    finally:
        c.close()


def drain(bootstrap, topic, expected, group):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    try:
        for _ in range(200):
            got += [m for m in c.consume(num_messages=100, timeout=0.5) if m.error() is None]
            if len(got) >= expected:
                break
    finally:
        c.close()
    return got


def audit_events(bootstrap, topic, group, expected):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    events = []
    try:
        for _ in range(40):
            events += [json.loads(m.value()) for m in c.consume(num_messages=50, timeout=0.5) if m.error() is None]
            if len(events) >= expected:
                # one more short poll proves nothing extra arrives
                events += [json.loads(m.value()) for m in c.consume(num_messages=50, timeout=1.0) if m.error() is None]
                break
    finally:
        c.close()
    return events
