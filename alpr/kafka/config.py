"""confluent-kafka client configuration shared by every service.

Security (TLS, SASL) is merged here for every client: `security=` when the caller names a
principal, else the process-wide value of `alpr.kafka.security` (configured at service start,
or read once from the shared `ALPR_KAFKA_*` settings).
"""

from __future__ import annotations

from typing import Any

from alpr.kafka.security import KafkaSecurity, current


def _secured(config: dict[str, Any], security: KafkaSecurity | None, extra: dict[str, Any]) -> dict[str, Any]:
    config.update((security or current()).client_config())
    config.update(extra)
    return config


def producer_config(
    bootstrap: str, client_id: str, security: KafkaSecurity | None = None, **extra: Any
) -> dict[str, Any]:
    # Idempotence with acks=all: a retried send never writes a duplicate, and nothing is
    # acknowledged before it is on the broker. One partitioner for every producer of the
    # platform: murmur2, the Java client's and faust's (librdkafka's own default, CRC32, would
    # put a key on another partition than faust's re-key topics and finance's Java clients do).
    config = {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "compression.type": "lz4",
        "message.max.bytes": 8 * 1024 * 1024,
        # After a broker restart librdkafka can keep a partition's leader unknown ("new leader-1
        # not found in cache") until its next periodic metadata refresh, 5 minutes by default
        # (the class of confluentinc/librdkafka#4976): a CI run of the broker-restart demo
        # (2026-12-07) had ingest's replay producer hold 256 frames that long after the broker
        # was back. 10 s bounds that wait; a metadata request every 10 s costs nothing.
        "topic.metadata.refresh.interval.ms": 10_000,
    }
    return _secured(config, security, extra)


def consumer_config(
    bootstrap: str, group_id: str, client_id: str, security: KafkaSecurity | None = None, **extra: Any
) -> dict[str, Any]:
    # Offsets are committed by hand after the effect (commit-after-write), never automatically.
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "fetch.message.max.bytes": 8 * 1024 * 1024,
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 1000,
    }
    return _secured(config, security, extra)


def admin_config(bootstrap: str, security: KafkaSecurity | None = None, **extra: Any) -> dict[str, Any]:
    # Warnings and errors only: librdkafka's info lines (queue purges on close) are noise here.
    return _secured({"bootstrap.servers": bootstrap, "log_level": 4}, security, extra)


def client_config(bootstrap: str, security: KafkaSecurity | None = None, **extra: Any) -> dict[str, Any]:
    """The bare connection (servers and security) for a client whose other keys the caller sets
    itself (a probe, a counting consumer): it still authenticates like every other client."""
    return _secured({"bootstrap.servers": bootstrap}, security, extra)
