"""`alpr topics apply`: make the broker's topics match the registry, idempotently.

Creates missing topics, raises partition counts that are too low (Kafka cannot lower them:
that is reported, not attempted) and sets retention, cleanup policy and min.insync.replicas.
A second run with no registry change reports every topic as unchanged and sends no change to
the broker.

The registry states production replication (3 copies, 2 in sync for an acknowledged write).
A cluster with fewer brokers gets what it can hold: the factor is capped at its broker count
and min.insync.replicas at that factor (a single broker: 1 and 1), and the caps are reported.
A topic with fewer replicas than the cluster could give it is a conflict: adding replicas
moves data (a partition reassignment), which this command does not start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
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


class TopicChanges(list):
    """The changes, one per topic, plus what the cluster allowed: its broker count and the
    registry settings that were capped to fit it ("replication_factor 3->1" ...)."""

    brokers: int = 1
    capped: list[str]

    def __init__(self, changes=(), brokers: int = 1, capped: list[str] | None = None) -> None:
        super().__init__(changes)
        self.brokers = brokers
        self.capped = capped or []


def capped_settings(contracts, brokers: int) -> list[str]:
    """The registry's replication settings that a cluster of `brokers` cannot honour, as
    'name wanted->given', each once (the registry uses the same values for every topic)."""
    caps: set[str] = set()
    for c in contracts:
        factor, min_isr = c.replication_on(brokers)
        if factor < c.replication_factor:
            caps.add(f"replication_factor {c.replication_factor}->{factor}")
        if min_isr < c.min_insync_replicas:
            caps.add(f"min.insync.replicas {c.min_insync_replicas}->{min_isr}")
    return sorted(caps, reverse=True)


def replication_of(bootstrap: str, topic: str) -> int:
    """How many replicas the partitions of `topic` have (1 when it is not found): the
    services replicate their internal topics (faust changelogs, re-key topics) like the
    topic they derive from, so a single broker and a cluster both get what they can hold."""
    admin = AdminClient(admin_config(bootstrap))
    try:
        found = admin.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
    except KafkaException as err:
        raise BrokerError(f"cannot reach Kafka at {bootstrap}: {err.args[0].str()}") from None
    if found is None or found.error is not None or not found.partitions:
        return 1
    return min(len(p.replicas) for p in found.partitions.values())


@dataclass(frozen=True)
class InternalTopic:
    """A topic a service owns and creates itself: a faust re-key topic or table changelog."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def faust_changelogs(app) -> list[InternalTopic]:
    """Every table changelog of the faust `app`, as faust itself would create it: compacted,
    with the table's extra topic configs, partitioned like the table."""
    out = []
    for table in app.tables.values():
        topic = table.changelog_topic
        partitions = topic.partitions or app.conf.topic_partitions
        out.append(InternalTopic(topic.get_topic_name(), partitions, {"cleanup.policy": "compact", **topic.config}))
    return out


def ensure_internal_topics(bootstrap: str, topics: list[InternalTopic], replication: int = 1) -> None:
    """Create a faust service's internal topics before its worker subscribes (one that exists
    is left as it is). faust declares them itself, but only after its consumer has subscribed:
    the group's first assignment then ignores them as missing, and the consumer rebalances when
    its next metadata refresh shows them (`faust_fixes.CONSUMER_METADATA_MAX_AGE_MS`, 5 s):
    a second join and table recovery seconds after the start, in the middle of the first work.
    Without the short refresh, a re-key topic missed that way was read by nobody for 5 minutes."""
    admin = AdminClient(admin_config(bootstrap))
    futures = admin.create_topics(
        [
            NewTopic(t.name, num_partitions=t.partitions, replication_factor=replication, config=t.config)
            for t in topics
        ],
        request_timeout=15,
    )
    for name, future in futures.items():
        try:
            future.result(TIMEOUT_S)
        except KafkaException as err:
            if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise BrokerError(f"cannot create {name}: {err.args[0].str()}") from None


def _wait(futures: dict, what: str) -> None:
    for key, future in futures.items():
        try:
            future.result(timeout=TIMEOUT_S)
        except KafkaException as err:
            raise BrokerError(f"{what} {key}: {err.args[0].str()}") from None


def apply_topics(bootstrap: str, contracts: dict[str, TopicContract] | None = None, prefix: str = "") -> TopicChanges:
    """Bring the broker in line with `contracts` (the registry by default).

    `prefix` lets tests apply the registry under fresh names on a shared broker.
    """
    contracts = contracts if contracts is not None else load_registry()
    admin = AdminClient(admin_config(bootstrap))
    try:
        metadata = admin.list_topics(timeout=TIMEOUT_S)
    except KafkaException as err:
        raise BrokerError(f"cannot reach Kafka at {bootstrap}: {err.args[0].str()}") from None

    brokers = max(1, len(metadata.brokers))
    changes = TopicChanges(brokers=brokers, capped=capped_settings(contracts.values(), brokers))
    to_create: list[NewTopic] = []
    for c in contracts.values():
        name = prefix + c.topic
        existing = metadata.topics.get(name)
        factor, _ = c.replication_on(brokers)
        if existing is None:
            to_create.append(
                NewTopic(name, num_partitions=c.partitions, replication_factor=factor, config=c.topic_config(brokers))
            )
            changes.append(TopicChange(name, "created", [f"partitions={c.partitions}", f"replication={factor}"]))
            continue
        change = TopicChange(name, "unchanged")
        have_factor = min((len(p.replicas) for p in existing.partitions.values()), default=factor)
        if have_factor < factor:
            change.action = "conflict"
            change.details.append(
                f"has {have_factor} replicas, the cluster can hold {factor}; adding replicas is a "
                "partition reassignment (kafka-reassign-partitions), which apply does not start"
            )
        have = len(existing.partitions)
        if have < c.partitions:
            _wait(admin.create_partitions([NewPartitions(name, c.partitions)]), "partitions of")
            change.details.append(f"partitions {have}->{c.partitions}")
        elif have > c.partitions:
            change.action = "conflict"
            change.details.append(f"has {have} partitions, registry says {c.partitions}; Kafka cannot shrink")
        resource = ConfigResource(ResourceType.TOPIC, name)
        current = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
        wanted = c.topic_config(brokers)
        diffs = {k: v for k, v in wanted.items() if current[k].value != v}
        if diffs:
            entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in diffs.items()]
            _wait(
                admin.incremental_alter_configs(
                    [ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)]
                ),
                "config of",
            )
            change.details.extend(f"{k}={v}" for k, v in diffs.items())
        if change.details and change.action == "unchanged":
            change.action = "updated"
        changes.append(change)
    if to_create:
        raced = []
        for key, future in admin.create_topics(to_create, operation_timeout=TIMEOUT_S).items():
            try:
                future.result(timeout=TIMEOUT_S)
            except KafkaException as err:
                # Created by someone else since the listing (a client's metadata request on a broker
                # that auto-creates topics, another apply): align it like any existing topic.
                if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise BrokerError(f"create topic {key}: {err.args[0].str()}") from None
                raced.append(key)
        if raced:
            by_name = {prefix + c.topic: (key, c) for key, c in contracts.items()}
            redone = {ch.topic: ch for ch in apply_topics(bootstrap, dict(by_name[n] for n in raced), prefix=prefix)}
            changes[:] = [redone.get(ch.topic, ch) for ch in changes]
    return changes
