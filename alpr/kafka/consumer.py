"""The batch consumer every confluent-kafka service runs: process, write, flush, commit.

A consumer is a pure processor plus a batch writer (docs/style.md 2-3):

1. take up to `max_batch` messages or whatever arrived within `max_wait_s`;
2. `process(message)` turns each message into a value, with no I/O; a message it rejects
   (any exception) goes to the DLQ with the reason, and the partition moves on;
3. `write(values)` makes the effect (rows inserted, messages produced);
4. the producer is flushed and every delivery confirmed;
5. only then are the offsets committed.

When the write fails (store away, broker restarting) the consumer pauses its partitions and
retries the same batch with backoff: memory stays bounded, nothing is skipped, and since every
write is idempotent (deterministic ids) a retry or a redelivery after a crash changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from alpr.kafka.config import consumer_config, producer_config
from alpr.kafka.dlq import DeadLetters
from alpr.kafka.messages import where
from alpr.metrics import BATCH_SECONDS, BATCH_SIZE, CONSUMER_LAG, MESSAGES, WRITE_FAILURES
from alpr.retry import backoffs

log = logging.getLogger(__name__)
T = TypeVar("T")


class DeliveryError(Exception):
    """A produced message was not acknowledged by the broker."""


class DeliveryTracker:
    """Delivery callback that remembers failures until the batch's flush is checked."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err.str()}")

    def check(self, producer: Producer, timeout: float) -> None:
        remaining = producer.flush(timeout)
        if remaining:
            raise DeliveryError(f"{remaining} message(s) not delivered within {timeout}s")
        if self.errors:
            errors, self.errors = self.errors, []
            raise DeliveryError("; ".join(errors[:3]))


@dataclass
class BatchResult:
    consumed: int = 0
    written: int = 0
    dead_lettered: int = 0
    committed: dict[tuple[str, int], int] = field(default_factory=dict)


class BatchConsumer(Generic[T]):
    def __init__(
        self,
        *,
        service: str,
        topics: Sequence[str],
        group_id: str,
        bootstrap: str,
        process: Callable[[Message], T | None],
        write: Callable[[list[T], Producer], None],
        max_batch: int = 500,
        max_wait_s: float = 0.2,
        flush_timeout_s: float = 30.0,
        topic_prefix: str = "",
        consumer_overrides: dict | None = None,
    ) -> None:
        self.service = service
        self.topics = list(topics)
        self._process = process
        self._write = write
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.flush_timeout_s = flush_timeout_s
        self.delivery = DeliveryTracker()
        self.producer = Producer(producer_config(bootstrap, f"{service}-producer", on_delivery=self.delivery))
        self.consumer = Consumer(
            consumer_config(bootstrap, group_id, f"{service}-consumer", **(consumer_overrides or {}))
        )
        self.dead_letters = DeadLetters(self.producer, service, topic_prefix)
        self.consumer.subscribe(self.topics)
        self._last_lag = 0.0

    # -- one batch ----------------------------------------------------------------------
    def poll_batch(self) -> list[Message]:
        messages = self.consumer.consume(num_messages=self.max_batch, timeout=self.max_wait_s)
        good = []
        for m in messages:
            err = m.error()
            if err is None:
                good.append(m)
            elif err.code() == KafkaError._PARTITION_EOF:
                continue
            elif err.fatal():
                raise KafkaException(err)
            else:
                log.warning("consumer error", extra={"service": self.service, "error": err.str()})
        return good

    def handle(self, messages: list[Message], stop: threading.Event | None = None) -> BatchResult:
        """Process, write, flush and commit one batch; returns what happened."""
        result = BatchResult(consumed=len(messages))
        if not messages:
            return result
        started = time.perf_counter()
        values: list[T] = []
        for m in messages:
            try:
                value = self._process(m)
            except Exception as err:  # any rejection is the message's fault: DLQ it
                self.dead_letters.send(m, f"{type(err).__name__}: {err}")
                MESSAGES.labels(self.service, m.topic(), "dlq").inc()
                result.dead_lettered += 1
                continue
            MESSAGES.labels(self.service, m.topic(), "ok").inc()
            if value is not None:
                values.append(value)
        self._write_with_retry(values, stop)
        result.written = len(values)
        offsets: dict[tuple[str, int], int] = {}
        for m in messages:
            topic, partition, offset = where(m)
            offsets[(topic, partition)] = max(offsets.get((topic, partition), -1), offset + 1)
        self._commit([TopicPartition(t, p, o) for (t, p), o in offsets.items()], stop)
        result.committed = offsets
        BATCH_SIZE.labels(self.service).observe(len(messages))
        BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        return result

    def _commit(self, offsets: list[TopicPartition], stop: threading.Event | None) -> None:
        """Commit after the effect. A broker restart answers NOT_COORDINATOR (and the like) for a
        while: retry those. If the group moved on (a rebalance), the offsets are no longer ours:
        the next owner redoes the batch, which is harmless because every effect is idempotent."""
        for backoff in backoffs():
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
                return
            except KafkaException as err:
                error = err.args[0]
                if error.code() in (
                    KafkaError.REBALANCE_IN_PROGRESS,
                    KafkaError.ILLEGAL_GENERATION,
                    KafkaError.UNKNOWN_MEMBER_ID,
                    KafkaError._NO_OFFSET,
                ):
                    log.warning(
                        "commit dropped after a rebalance; the batch will be redone",
                        extra={"service": self.service, "error": error.str()},
                    )
                    return
                if error.fatal() or not (
                    error.retriable()
                    or error.code()
                    in (
                        KafkaError.NOT_COORDINATOR,
                        KafkaError.COORDINATOR_NOT_AVAILABLE,
                        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                        KafkaError._TRANSPORT,
                        KafkaError._TIMED_OUT,
                        KafkaError.REQUEST_TIMED_OUT,
                        KafkaError._WAIT_COORD,
                    )
                ):
                    raise
                log.warning(
                    "commit failed; retrying",
                    extra={"service": self.service, "error": error.str(), "backoff_s": backoff},
                )
                if stop is not None and stop.is_set():
                    raise
                time.sleep(backoff)  # backing off a coordinator that is coming back

    def _write_with_retry(self, values: list[T], stop: threading.Event | None) -> None:
        paused = False
        try:
            for backoff in backoffs():
                try:
                    if values:
                        self._write(values, self.producer)
                    self.delivery.check(self.producer, self.flush_timeout_s)
                    return
                except Exception as err:
                    WRITE_FAILURES.labels(self.service).inc()
                    log.warning(
                        "batch write failed; retrying",
                        extra={"service": self.service, "error": f"{type(err).__name__}: {err}", "backoff_s": backoff},
                    )
                    if stop is not None and stop.is_set():
                        raise
                    if not paused:
                        # Stop fetching while the store or broker is away: bounded memory.
                        self.consumer.pause(self.consumer.assignment())
                        paused = True
                    # consume() on paused partitions returns nothing but keeps the group
                    # membership alive (max.poll.interval.ms) while we back off.
                    self.consumer.consume(num_messages=1, timeout=backoff)
        finally:
            if paused:
                self.consumer.resume(self.consumer.assignment())

    def report_lag(self) -> None:
        lag: dict[str, int] = {}
        for tp in self.consumer.assignment():
            low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            committed = self.consumer.position([tp])[0].offset
            if high >= 0 and committed >= 0:
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - committed)
        for topic, value in lag.items():
            CONSUMER_LAG.labels(self.service, topic).set(value)

    # -- the loop -----------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.handle(self.poll_batch(), stop)
                now = time.monotonic()
                if now - self._last_lag > 5:
                    self.report_lag()
                    self._last_lag = now
        finally:
            self.close()

    def close(self) -> None:
        try:
            self.producer.flush(self.flush_timeout_s)
        finally:
            self.consumer.close()
