"""Dead-letter queues: a message that cannot be processed moves to its DLQ with the reason.

The original key, value and headers are kept byte for byte, so an operator can fix the cause
and replay; the `dlq.*` headers say why, from where and when. A counter per (service, topic)
makes DLQ traffic alertable. Bad messages never block a partition (docs/style.md 4).

One path, two transports: `DeadLetters` sends through a confluent-kafka producer (the
recognizer, audit and revocations consumers), `FaustDeadLetters` through the faust app's own
producer (occupancy and revenue), so a stream service has one client and its dead letter is
acknowledged before the batch that read the bad message commits. The DLQ's name (the topic
registry's `dlq`), the headers and the metric are the same for both.
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
    # confluent-kafka gives a list of pairs; faust a list, or a dict when the message was made locally.
    own = list(headers.items() if isinstance(headers, dict) else headers or [])
    return own + [
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


class FaustDeadLetters:
    """The same dead letter for a faust message, through the app's producer."""

    def __init__(self, app, service: str, prefix: str = "") -> None:
        self._app = app
        self._service = service
        self._prefix = prefix

    async def send(self, message, reason: str) -> None:
        """Returns once the broker acknowledged the copy; raises if it could not (the caller
        retries: a dead letter is an effect of the batch like any other)."""
        headers = dead_letter_headers(
            message.headers, message.topic, message.partition, message.offset, self._service, reason
        )
        sent = await self._app.producer.send(
            dlq_for(message.topic, self._prefix),
            message.key,
            message.value,
            partition=None,
            timestamp=None,
            headers=headers,
        )
        await sent
        DLQ_MESSAGES.labels(service=self._service, topic=message.topic).inc()
