"""Dead-letter queues: a message that cannot be processed moves to its DLQ with the reason.

The original key, value and headers are kept byte for byte, so an operator can fix the cause
and replay; the `dlq.*` headers say why, from where and when. A counter per (service, topic)
makes DLQ traffic alertable. Bad messages never block a partition (docs/style.md 4).
"""

from __future__ import annotations

from datetime import UTC, datetime

from confluent_kafka import Message, Producer

from alpr.contracts.models import utc_iso
from alpr.contracts.registry import dlq_for
from alpr.kafka.messages import where
from alpr.metrics import DLQ_MESSAGES

MAX_REASON = 2000


def dead_letter_headers(headers, topic: str, partition: int, offset: int, service: str, reason: str) -> list:
    """The message's own headers plus the `dlq.*` ones: why, from where, by whom, when. The one
    definition, for the synchronous producer here and for faust's in the stream services."""
    reason = (reason or "unknown error")[:MAX_REASON]
    return list(headers or []) + [
        ("dlq.reason", reason.encode()),
        ("dlq.source_topic", topic.encode()),
        ("dlq.source_partition", str(partition).encode()),
        ("dlq.source_offset", str(offset).encode()),
        ("dlq.service", service.encode()),
        ("dlq.at", utc_iso(datetime.now(UTC)).encode()),
    ]


class DeadLetters:
    def __init__(self, producer: Producer, service: str, prefix: str = "") -> None:
        self._producer = producer
        self._service = service
        self._prefix = prefix

    def send(self, message: Message, reason: str) -> None:
        topic, partition, offset = where(message)
        headers = dead_letter_headers(message.headers(), topic, partition, offset, self._service, reason)
        self._producer.produce(dlq_for(topic, self._prefix), key=message.key(), value=message.value(), headers=headers)
        DLQ_MESSAGES.labels(service=self._service, topic=message.topic()).inc()
