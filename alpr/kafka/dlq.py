"""Dead-letter queues: a message that cannot be processed moves to its DLQ with the reason.

The original key, value and headers are kept byte for byte, so an operator can fix the cause
and replay; the `dlq.*` headers say why, from where and when. A counter per (service, topic)
makes DLQ traffic alertable. Bad messages never block a partition (STYLE.md, item 4).
"""

from __future__ import annotations

from datetime import datetime, timezone

from confluent_kafka import Message, Producer

from alpr.contracts.models import utc_iso
from alpr.metrics import DLQ_MESSAGES

MAX_REASON = 2000


def dlq_topic_for(topic: str, prefix: str = "") -> str:
    """alpr.frames.v1 -> alpr.frames.dlq: one DLQ per topic family, whatever the version."""
    base = topic[len(prefix):] if prefix and topic.startswith(prefix) else topic
    family = base.rsplit(".", 1)[0] if base.rsplit(".", 1)[-1].startswith("v") else base
    return f"{prefix}{family}.dlq"


class DeadLetters:
    def __init__(self, producer: Producer, service: str, prefix: str = "") -> None:
        self._producer = producer
        self._service = service
        self._prefix = prefix

    def send(self, message: Message, reason: str) -> None:
        reason = (reason or "unknown error")[:MAX_REASON]
        headers = list(message.headers() or [])
        headers += [
            ("dlq.reason", reason.encode()),
            ("dlq.source_topic", message.topic().encode()),
            ("dlq.source_partition", str(message.partition()).encode()),
            ("dlq.source_offset", str(message.offset()).encode()),
            ("dlq.service", self._service.encode()),
            ("dlq.at", utc_iso(datetime.now(timezone.utc)).encode()),
        ]
        self._producer.produce(
            dlq_topic_for(message.topic(), self._prefix), key=message.key(), value=message.value(), headers=headers
        )
        DLQ_MESSAGES.labels(service=self._service, topic=message.topic()).inc()
