"""Least-privilege ACLs, one principal per service, generated from the topic registry.

`service_grants` reads each topic's `owner` and `consumers` (schemas/topics/*.yaml):

- `services/<name>` names a service; `every service ...` is every service; `every consumer of
  <topic>` (the DLQs) is that topic's consumers; anything else (finance systems, dashboards,
  operators) is outside the platform and gets no grant here (it connects as its own principal,
  granted by the operator, or as admin for inspection);
- an owner (producer) gets WRITE and DESCRIBE on the topic, a consumer READ and DESCRIBE;
- every service gets READ on the consumer groups that start with `<prefix>alpr-<service>`
  (`alpr-recognizer`, `alpr-audit-sink`, `alpr-occupancy-holds`, the faust app's group ...);
- the faust services (occupancy, revenue) get READ, WRITE, CREATE, DESCRIBE and DESCRIBE_CONFIGS
  on the topics that start with `<prefix><app id>-`: faust's changelogs (`<app id>-<table>-changelog`),
  its leader topic (`<app id>-__assignor-__leader`) and revenue's re-key topics
  (`<app id>-sessions-by-plate`), which the services create themselves.

An idempotent producer needs no cluster grant: since Kafka 3.0 (KIP-679) WRITE on a topic
allows InitProducerId. Topics themselves are created by `alpr topics apply` as the super user.

`apply_acls` creates what is missing and reports what is there already, so a second run sends
no change; on a broker without an authorizer (the plaintext development broker) it does nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from alpr.contracts.registry import TopicContract, load_registry
from alpr.errors import BrokerError
from alpr.kafka.broker import SERVICE_USERS
from alpr.kafka.config import admin_config
from alpr.kafka.security import KafkaSecurity

TIMEOUT_S = 30
SERVICES = SERVICE_USERS
# faust app id of each stateful service (its settings' `faust_app_id` default, `alpr-<service>`).
FAUST_APPS = {"occupancy": "alpr-occupancy", "revenue": "alpr-revenue"}
NO_AUTHORIZER = "the broker has no authorizer (the PLAINTEXT development broker): no ACLs to apply"
FAUST_OPERATIONS = ("READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS")


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: `principal` may `operation` on the `resource` (topic, group) named
    `name`, literally or as a prefix (`pattern`), from any host."""

    principal: str
    resource: str  # TOPIC | GROUP
    name: str
    pattern: str  # LITERAL | PREFIXED
    operation: str

    def binding(self) -> AclBinding:
        return AclBinding(
            ResourceType[self.resource],
            self.name,
            ResourcePatternType[self.pattern],
            self.principal,
            "*",
            AclOperation[self.operation],
            AclPermissionType.ALLOW,
        )

    @classmethod
    def of(cls, b: AclBinding) -> Grant:
        # The binding's fields are enums once built (confluent-kafka converts them).
        restype, pattern, operation = (ResourceType(b.restype), ResourcePatternType(b.resource_pattern_type),
                                       AclOperation(b.operation))  # fmt: skip
        return cls(b.principal, restype.name, b.name, pattern.name, operation.name)

    def __str__(self) -> str:
        star = "*" if self.pattern == "PREFIXED" else ""
        return f"{self.principal} {self.operation} {self.resource.lower()} {self.name}{star}"


def principal(service: str) -> str:
    return f"User:{service}"


def _services_in(text: str, contracts: dict[str, TopicContract], seen: frozenset[str] = frozenset()) -> set[str]:
    """The services a registry owner/consumer entry names (see the module doc)."""
    text = text.strip()
    if text.startswith("services/"):
        name = text.removeprefix("services/").split()[0]
        if name not in SERVICES:
            raise BrokerError(f"the registry names {text}, which has no Kafka principal (known: {', '.join(SERVICES)})")
        return {name}
    if text.startswith("every service"):
        return set(SERVICES)
    if text.startswith("every consumer of "):
        parent = text.removeprefix("every consumer of ").split()[0]
        if parent in seen or parent not in contracts:
            raise BrokerError(f"the registry's '{text}' names no topic of the registry")
        return {s for c in contracts[parent].consumers for s in _services_in(c, contracts, seen | {parent})}
    return set()  # outside the platform: finance systems, dashboards, operators


def producers(c: TopicContract, contracts: dict[str, TopicContract]) -> set[str]:
    return _services_in(c.owner, contracts)


def consumers(c: TopicContract, contracts: dict[str, TopicContract]) -> set[str]:
    return {s for entry in c.consumers for s in _services_in(entry, contracts)}


def service_grants(
    contracts: dict[str, TopicContract] | None = None, prefix: str = "", faust_apps: dict[str, str] | None = None
) -> set[Grant]:
    """Every grant of every service principal, from the registry (topics named with `prefix`)."""
    contracts = contracts if contracts is not None else load_registry()
    faust_apps = FAUST_APPS if faust_apps is None else faust_apps
    grants: set[Grant] = set()
    for c in contracts.values():
        name = prefix + c.topic
        for s in producers(c, contracts):
            grants |= {Grant(principal(s), "TOPIC", name, "LITERAL", op) for op in ("WRITE", "DESCRIBE")}
        for s in consumers(c, contracts):
            grants |= {Grant(principal(s), "TOPIC", name, "LITERAL", op) for op in ("READ", "DESCRIBE")}
    for s in SERVICES:
        grants.add(Grant(principal(s), "GROUP", f"{prefix}alpr-{s}", "PREFIXED", "READ"))
    for s, app_id in faust_apps.items():
        grants |= {Grant(principal(s), "TOPIC", f"{prefix}{app_id}-", "PREFIXED", op) for op in FAUST_OPERATIONS}
        grants.add(Grant(principal(s), "GROUP", f"{prefix}{app_id}", "PREFIXED", "READ"))
    return grants


@dataclass
class AclChanges:
    """What `apply_acls` did: `created` and `unchanged` grants, `extra` grants of the services'
    principals the registry does not give (reported, not removed), or `skipped` with the reason."""

    created: list[Grant] = field(default_factory=list)
    unchanged: list[Grant] = field(default_factory=list)
    extra: list[Grant] = field(default_factory=list)
    skipped: str | None = None


def existing_grants(admin: AdminClient) -> set[Grant] | None:
    """Every ALLOW ACL on the broker; None when it has no authorizer (SECURITY_DISABLED)."""
    # None matches any name, principal and host (confluent-kafka's filter; its stubs say str).
    anything: Any = None
    everything = AclBindingFilter(
        ResourceType.ANY, anything, ResourcePatternType.ANY, anything, anything, AclOperation.ANY, AclPermissionType.ANY
    )
    try:
        bindings = admin.describe_acls(everything, request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    except KafkaException as err:
        if err.args[0].code() == KafkaError.SECURITY_DISABLED:
            return None
        raise BrokerError(f"describe ACLs: {err.args[0].name()}") from None
    return {Grant.of(b) for b in bindings if b.permission_type == AclPermissionType.ALLOW and b.host == "*"}


def apply_acls(
    bootstrap: str,
    contracts: dict[str, TopicContract] | None = None,
    prefix: str = "",
    security: KafkaSecurity | None = None,
    faust_apps: dict[str, str] | None = None,
) -> AclChanges:
    """Give every service principal its grants (idempotent: only what is missing is created).
    Runs as a super user (`admin` on the local secure broker)."""
    admin = AdminClient(admin_config(bootstrap, security))
    have = existing_grants(admin)
    if have is None:
        return AclChanges(skipped="the broker has no authorizer (PLAINTEXT development broker): no ACLs to apply")
    wanted = service_grants(contracts, prefix, faust_apps)
    missing = sorted(wanted - have)
    changes = AclChanges(unchanged=sorted(wanted & have))
    managed = {principal(s) for s in SERVICES}
    changes.extra = sorted(g for g in have - wanted if g.principal in managed and g.name.startswith(prefix))
    if missing:
        futures = admin.create_acls([g.binding() for g in missing], request_timeout=TIMEOUT_S)
        for binding, future in futures.items():
            try:
                future.result(timeout=TIMEOUT_S)
            except KafkaException as err:
                # Kafka 4.1 answers a DescribeAcls without an authorizer with an empty list; only
                # the CreateAcls says SECURITY_DISABLED (nothing was created).
                if err.args[0].code() == KafkaError.SECURITY_DISABLED:
                    return AclChanges(skipped=NO_AUTHORIZER)
                raise BrokerError(f"create ACL {Grant.of(binding)}: {err.args[0].name()}") from None
        changes.created = missing
        _wait_in_force(admin, wanted)
    return changes


def _wait_in_force(admin: AdminClient, wanted: set[Grant]) -> None:
    """Return once the broker's authorizer lists every grant: the controller acknowledges a
    new ACL when it is in the metadata log, and a broker applies it a moment later (a client
    that connects in between is refused)."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        have = existing_grants(admin) or set()
        if wanted <= have:
            return
        if time.monotonic() >= deadline:
            raise BrokerError(f"{len(wanted - have)} new ACLs not in force on the broker after {TIMEOUT_S}s")
        time.sleep(0.1)  # polling the broker's ACL listing, not waiting for an outcome
