"""The audit client every service's API uses: one event per access, or no data (fail closed).

Policy 3.C.1: access is "capable of documenting all access of information by name, date,
and time"; section 6: "All activity is logged". So an allowed request is answered only after
its AuditEvent is acknowledged by Kafka (alpr.audit.v1); if Kafka cannot take it, the client
raises `AuditUnavailable` and the route answers 503 without the data. Refusals are recorded
too, best effort (a refusal serves no data, so it need not wait).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from confluent_kafka import KafkaError, Message, Producer

from alpr.auth import Principal
from alpr.contracts.models import AuditEvent
from alpr.contracts.registry import Topic, encode
from alpr.kafka.config import producer_config
from alpr.purposes import StatedPurpose

AUDIT_TOPIC = Topic.AUDIT


class AuditUnavailable(Exception):
    """The audit event could not be recorded; the data must not be served."""


class AuditClient:
    def __init__(self, bootstrap: str, service: str, topic: str = AUDIT_TOPIC, timeout_s: float = 5.0) -> None:
        self.service = service
        self.topic = topic
        self.timeout_s = timeout_s
        extra: dict[str, Any] = {"linger.ms": 0, "message.timeout.ms": int(timeout_s * 1000)}
        self._producer = Producer(producer_config(bootstrap, f"{service}-audit", **extra))

    def event(
        self,
        principal: Principal | None,
        action: str,
        resource: str,
        *,
        outcome: Literal["allowed", "denied", "error"],
        client: str = "",
        filters: dict[str, str] | None = None,
        plates: Iterable[str] = (),
        row_count: int = 0,
        reason: str = "",
        purpose: StatedPurpose | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            event_id=f"{self.service}:{uuid.uuid4()}",
            at=datetime.now(UTC),
            service=self.service,
            user=principal.user if principal else "anonymous",
            role=principal.role if principal else "",
            action=action,
            resource=resource[:500],
            filters={k: str(v)[:200] for k, v in (filters or {}).items() if v is not None},
            plates=sorted(set(plates))[:1000],
            row_count=row_count,
            client=client[:100],
            outcome=outcome,
            reason=reason[:500],
            purpose=purpose.code if purpose else "",
            case_ref=purpose.case if purpose else "",
        )

    def record(self, event: AuditEvent) -> None:
        """Publish and wait for the broker's acknowledgement; raise AuditUnavailable otherwise."""
        failures: list[str] = []

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                failures.append(err.str())

        try:
            self._producer.produce(self.topic, key=self.service, value=encode(event), on_delivery=delivered)
        except BufferError as err:
            raise AuditUnavailable(f"audit queue full: {err}") from None
        remaining = self._producer.flush(self.timeout_s)
        if remaining or failures:
            raise AuditUnavailable(failures[0] if failures else "audit log not reachable (Kafka did not acknowledge)")

    def record_nowait(self, event: AuditEvent) -> None:
        """Publish without waiting for the broker: for records of requests that served no ALPR
        data (refusals, operational status pages), which must not wait on, or fail with, Kafka."""
        try:
            self._producer.produce(self.topic, key=self.service, value=encode(event))
            self._producer.poll(0)
        except BufferError:
            pass  # the request served no ALPR data; losing its record under overload is the lesser harm

    def close(self) -> None:
        self._producer.flush(self.timeout_s)
