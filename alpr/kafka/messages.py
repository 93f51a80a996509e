"""Where a consumed message came from, typed.

confluent-kafka types a message's topic, partition and offset as optional (a message built
for producing has none); one read from a broker always has all three. `where` says so once,
instead of each consumer assuming it.
"""

from __future__ import annotations

from confluent_kafka import Message


def where(message: Message) -> tuple[str, int, int]:
    """(topic, partition, offset) of a consumed message."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("not a consumed message: it has no topic, partition or offset")
    return topic, partition, offset
