"""Reading and writing the real broker from a test: produce, drain, committed offsets, audit events."""

from __future__ import annotations

import contextlib
import json
import os

from confluent_kafka import Consumer, Producer, TopicPartition

from alpr.kafka.config import client_config
from alpr.kafka.security import SECURITY_VARIABLES

# The suite's broker is the secure one (make test: SASL_SSL, the admin principal); these are
# the variables that say how to reach it, passed on to every process a test starts.
SECURITY_VARS = SECURITY_VARIABLES
# The suite's broker (make test: the secure one), for clients that need an address but no data.
SUITE_BOOTSTRAP = os.environ.get("ALPR_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
# A test's own development broker (a second broker, the local cluster): no security at all.
PLAINTEXT_ENV = {"ALPR_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}


def suite_security_env() -> dict[str, str]:
    """The security variables of the suite's broker, for a process the test starts."""
    return {k: os.environ[k] for k in SECURITY_VARS if k in os.environ}


def with_suite_security(env: dict[str, str]) -> dict[str, str]:
    """`env` plus the suite's security, unless `env` chooses its own (a test's own broker)."""
    if "ALPR_KAFKA_SECURITY_PROTOCOL" in env:
        return dict(env)
    return {**suite_security_env(), **env}


@contextlib.contextmanager
def plaintext_clients():
    """In-process clients of a test's own development broker: PLAINTEXT for the duration,
    whatever the suite's broker uses; the suite's security is restored afterwards."""
    from alpr.kafka import security

    before = security.current()
    security.configure(security.KafkaSecurity())
    try:
        yield
    finally:
        security.configure(before)


def produce_all(bootstrap, topic, messages):
    producer = Producer(client_config(bootstrap, **{"enable.idempotence": True}))
    for key, value in messages:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def committed(bootstrap, group, topic, partitions):
    c = Consumer(client_config(bootstrap, **{"group.id": group}))
    try:
        return {
            tp.partition: tp.offset
            for tp in c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
        }
    finally:
        c.close()


def drain(bootstrap, topic, expected, group):
    c = Consumer(client_config(bootstrap, **{"group.id": group, "auto.offset.reset": "earliest"}))
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
    c = Consumer(client_config(bootstrap, **{"group.id": group, "auto.offset.reset": "earliest"}))
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


def principal_env(service: str, prefix: str) -> dict[str, str]:
    """The login of `service`'s own principal on the suite's secure broker, with the registry's
    ACLs applied for `prefix` (as the administrator): a service a test starts with it has only
    the rights it has in production. On a plaintext suite broker: nothing (no principals)."""
    if os.environ.get("ALPR_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT") == "PLAINTEXT":
        return {}
    from alpr.kafka import security
    from alpr.kafka.acls import apply_acls
    from alpr.kafka.broker import BrokerSettings, SecureBroker
    from alpr.settings import load_settings

    broker = SecureBroker(load_settings(BrokerSettings))
    apply_acls(SUITE_BOOTSTRAP, prefix=prefix, security=security.current())
    return broker.client_env(service)
