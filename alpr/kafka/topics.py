"""`alpr topics apply`: make the broker's topics match the registry, idempotently.

Creates missing topics, raises partition counts that are too low (Kafka cannot lower them:
that is reported, not attempted) and sets retention and cleanup policy. A second run with
no registry change reports every topic as unchanged and sends no change to the broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from alpr.contracts.registry import TopicContract, load_registry
from alpr.errors import BrokerError
from alpr.kafka.config import admin_config

TIMEOUT_S = 30


@dataclass
class TopicChange:
    topic: str
    action: str  # created | updated | unchanged | conflict
    details: list[str] = field(default_factory=list)


def _wait(futures: dict, what: str) -> None:
    for key, future in futures.items():
        try:
            future.result(timeout=TIMEOUT_S)
        except KafkaException as err:
            raise BrokerError(f"{what} {key}: {err.args[0].str()}") from None


def apply_topics(
    bootstrap: str, contracts: dict[str, TopicContract] | None = None, prefix: str = ""
) -> list[TopicChange]:
    """Bring the broker in line with `contracts` (the registry by default).

    `prefix` lets tests apply the registry under fresh names on a shared broker.
    """
    contracts = contracts if contracts is not None else load_registry()
    admin = AdminClient(admin_config(bootstrap))
    try:
        metadata = admin.list_topics(timeout=TIMEOUT_S)
    except KafkaException as err:
        raise BrokerError(f"cannot reach Kafka at {bootstrap}: {err.args[0].str()}") from None

    changes: list[TopicChange] = []
    to_create: list[NewTopic] = []
    for c in contracts.values():
        name = prefix + c.topic
        existing = metadata.topics.get(name)
        if existing is None:
            to_create.append(
                NewTopic(name, num_partitions=c.partitions, replication_factor=c.replication_factor, config=c.topic_config())
            )
            changes.append(TopicChange(name, "created", [f"partitions={c.partitions}"]))
            continue
        change = TopicChange(name, "unchanged")
        have = len(existing.partitions)
        if have < c.partitions:
            _wait(admin.create_partitions([NewPartitions(name, c.partitions)]), "partitions of")
            change.details.append(f"partitions {have}->{c.partitions}")
        elif have > c.partitions:
            change.action = "conflict"
            change.details.append(f"has {have} partitions, registry says {c.partitions}; Kafka cannot shrink")
        resource = ConfigResource(ResourceType.TOPIC, name)
        current = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
        wanted = c.topic_config()
        diffs = {k: v for k, v in wanted.items() if current[k].value != v}
        if diffs:
            entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in diffs.items()]
            _wait(admin.incremental_alter_configs([ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)]), "config of")
            change.details.extend(f"{k}={v}" for k, v in diffs.items())
        if change.details and change.action == "unchanged":
            change.action = "updated"
        changes.append(change)
    if to_create:
        _wait(admin.create_topics(to_create, operation_timeout=TIMEOUT_S), "create topic")
    return changes
