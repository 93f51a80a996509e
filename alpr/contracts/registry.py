"""The topic registry: one YAML per topic in schemas/topics/, loaded and checked.

Each YAML names the topic's owner, consumers, key, partitions, retention and cleanup policy,
the pydantic model of its messages, whether the model covers the value (JSON) or the headers
(binary values such as JPEG frames), and the DLQ that its consumers use.
"""

from __future__ import annotations

import functools
import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alpr.contracts import models
from alpr.errors import ContractError

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "topics"


class TopicContract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(pattern=r"^alpr\.[a-z-]+\.(v\d+|dlq)$")
    description: str
    owner: str
    consumers: list[str]
    key: str = Field(description="What the message key holds; it decides partitioning.")
    partitions: int = Field(ge=1, le=1000)
    replication_factor: int = Field(
        3,
        ge=1,
        description="Copies of each partition in production; `alpr topics apply` caps it at the brokers it finds.",
    )
    min_insync_replicas: int = Field(
        2,
        ge=1,
        description="Copies that must have a write before an acks=all producer hears it is stored (capped the same way).",
    )
    retention_ms: int = Field(ge=-1)
    cleanup_policy: Literal["delete", "compact", "compact,delete"] = "delete"
    max_message_bytes: int = Field(
        1_048_588, ge=1024, le=8 * 1024 * 1024, description="Largest message the topic takes."
    )
    segment_ms: int | None = Field(
        None,
        ge=60_000,
        description="Roll a segment at least this often (segment.ms). Compaction never touches the "
        "active segment, so a compacted topic that must stay small rolls more often than the broker's 7 days.",
    )
    model: str = Field(description="Class name in alpr.contracts.models.")
    payload: Literal["value", "headers"] = "value"
    dlq: str | None = Field(None, description="Dead-letter topic used by this topic's consumers.")

    @model_validator(mode="after")
    def _min_insync_within_replication(self):
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"min_insync_replicas {self.min_insync_replicas} exceeds replication_factor {self.replication_factor}"
            )
        return self

    def replication_on(self, brokers: int) -> tuple[int, int]:
        """(replication factor, min.insync.replicas) on a cluster of `brokers`: the registry's,
        capped at what the cluster has (a single broker: 1 and 1)."""
        factor = max(1, min(self.replication_factor, brokers))
        return factor, min(self.min_insync_replicas, factor)

    @property
    def model_class(self) -> type[models.Contract]:
        return getattr(models, self.model)

    @property
    def schema_path(self) -> Path:
        return SCHEMAS_DIR / f"{self.topic}.schema.json"

    @property
    def examples_dir(self) -> Path:
        return SCHEMAS_DIR / "examples" / self.topic

    def topic_config(self, brokers: int = 1) -> dict[str, str]:
        config = {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": self.cleanup_policy,
            "max.message.bytes": str(self.max_message_bytes),
            "min.insync.replicas": str(self.replication_on(brokers)[1]),
        }
        if self.segment_ms is not None:
            config["segment.ms"] = str(self.segment_ms)
        return config


@functools.cache
def load_registry(directory: Path = SCHEMAS_DIR) -> dict[str, TopicContract]:
    contracts: dict[str, TopicContract] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            contract = TopicContract.model_validate(yaml.safe_load(path.read_text()))
        except ValidationError as err:
            raise ContractError(f"{path.name}: {err.errors()[0]['loc']}: {err.errors()[0]['msg']}") from None
        if path.stem != contract.topic:
            raise ContractError(f"{path.name} declares topic {contract.topic}; file name must match")
        if not hasattr(models, contract.model):
            raise ContractError(f"{path.name}: no model {contract.model} in alpr.contracts.models")
        contracts[contract.topic] = contract
    for contract in list(contracts.values()):
        if contract.dlq and contract.dlq not in contracts:
            raise ContractError(f"{contract.topic}: its DLQ {contract.dlq} has no YAML")
    return contracts


@functools.cache
def _registry() -> dict[str, TopicContract]:
    return load_registry()


def contract(topic: str) -> TopicContract:
    try:
        return _registry()[topic]
    except KeyError:
        raise ContractError(f"no contract for topic {topic!r}") from None


class Topic(StrEnum):
    """Every topic of the registry, by name: code names a topic only through this (as snuba's
    `Topic`), so a rename is one YAML and one line here; tests/test_layout.py checks that no
    other module spells a topic's name and that this list is the registry's."""

    FRAMES = "alpr.frames.v1"
    READS = "alpr.reads.v1"
    PASSES = "alpr.passes.v1"
    OCCUPANCY = "alpr.occupancy.v1"
    PAYMENTS = "alpr.payments.v1"
    REVENUE_MATCHES = "alpr.revenue-matches.v1"
    VIOLATIONS = "alpr.violations.v1"
    AUDIT = "alpr.audit.v1"
    HOLDS = "alpr.holds.v1"
    REVOCATIONS = "alpr.revocations.v1"
    REVIEW_DECISIONS = "alpr.review-decisions.v1"
    FRAMES_DLQ = "alpr.frames.dlq"
    READS_DLQ = "alpr.reads.dlq"
    PASSES_DLQ = "alpr.passes.dlq"
    PAYMENTS_DLQ = "alpr.payments.dlq"
    AUDIT_DLQ = "alpr.audit.dlq"
    HOLDS_DLQ = "alpr.holds.dlq"
    REVOCATIONS_DLQ = "alpr.revocations.dlq"
    REVIEW_DECISIONS_DLQ = "alpr.review-decisions.dlq"

    def on(self, prefix: str = "") -> str:
        """The topic's name on a cluster whose topics carry `prefix` (ALPR_TOPIC_PREFIX)."""
        return prefix + self.value

    @property
    def contract(self) -> TopicContract:
        return contract(self.value)

    @property
    def is_dead_letters(self) -> bool:
        """Whether this is a dead-letter topic: some other topic of the registry names it as its DLQ."""
        return any(t.contract.dlq == self.value for t in Topic)

    @property
    def dlq(self) -> Topic:
        """The dead-letter topic the registry names for this topic's consumers."""
        name = self.contract.dlq
        if name is None:
            raise ContractError(f"{self.value} has no DLQ in the registry (schemas/topics/{self.value}.yaml)")
        return Topic(name)


def dlq_for(topic: str, prefix: str = "") -> str:
    """The registry's DLQ for a topic name as it is on the cluster (`prefix` included)."""
    base = topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic
    try:
        return Topic(base).dlq.on(prefix)
    except ValueError:
        raise ContractError(f"no contract for topic {topic!r}") from None


def export_schema(c: TopicContract) -> dict[str, Any]:
    schema = c.model_class.model_json_schema(mode="serialization")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://alpr.example/schemas/topics/{c.topic}.schema.json",
        **schema,
    }
    return schema


def render_schema(c: TopicContract) -> str:
    return json.dumps(export_schema(c), indent=2, sort_keys=True) + "\n"


def headers_to_dict(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    """Kafka headers to a dict; header names use '.' on the wire and '_' in the models."""
    out: dict[str, str] = {}
    for name, value in headers or []:
        out[name.replace(".", "_")] = value.decode("utf-8", "replace") if value is not None else ""
    return out


def decode(c: TopicContract, value: bytes | None, headers: list[tuple[str, bytes]] | None = None):
    """Parse a message of topic `c` into its model, or raise ContractError with the reason."""
    try:
        if c.payload == "headers":
            return c.model_class.model_validate(headers_to_dict(headers))
        if value is None:
            raise ContractError("empty value (tombstone) on a topic that has no compaction")
        return c.model_class.model_validate_json(value)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise ContractError(f"{c.topic}: {where}: {first['msg']} ({err.error_count()} error(s))") from None


def encode(message: models.Contract) -> bytes:
    return message.model_dump_json(exclude_none=False).encode()
