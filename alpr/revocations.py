"""Token revocations, enforced by every service that checks tokens (policy 3.A and 3.C.1).

A logout or a disabled user must end access everywhere at once, not when the token expires
(up to 15 minutes later). The governance service publishes each revocation on the compacted
topic alpr.revocations.v1 and answers only once Kafka acknowledged it. Every service that
checks tokens runs a `RevocationFeed`: a consumer that reads the whole topic from the
beginning at start, then follows it. Until it has read to the end the set is not `loaded`:
/healthz says not ready and data routes answer 503, so a restarted service never accepts a
token that was revoked while it was down. Afterwards a revocation is refused within the
consumer's poll interval (`alpr_revocation_delay_seconds` measures it).

Every process reads every partition itself (manual assignment, no group rebalancing): each
replica of each service needs the whole set. The consumer group has one use: the offset
committed after a message was dead-lettered, so that a restart, which reads from the
beginning again, does not dead-letter the same malformed record a second time.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from alpr.auth import Principal
from alpr.contracts.models import Revocation
from alpr.contracts.registry import Topic, contract, decode
from alpr.errors import ContractError
from alpr.kafka.config import consumer_config, producer_config
from alpr.kafka.consumer import DeliveryError, DeliveryTracker
from alpr.kafka.dlq import DeadLetters
from alpr.kafka.messages import where
from alpr.metrics import MESSAGES, REVOCATION_DELAY, REVOCATIONS
from alpr.retry import backoffs

log = logging.getLogger(__name__)

TOPIC = Topic.REVOCATIONS
PRUNE_EVERY_S = 30.0
COMMIT_ATTEMPTS = 5
_COORDINATOR_MOVING = (
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError._WAIT_COORD,
    KafkaError._TRANSPORT,
)


def parse_revocation(key: bytes | None, value: bytes | None) -> tuple[str, Revocation | None]:
    """One message of the topic as (key, record); a tombstone is (key, None). Pure.

    Raises ContractError for what cannot be applied: no key, a value that breaks the contract,
    or a record filed under another key (compaction would then keep the wrong one)."""
    if not key:
        raise ContractError(f"{TOPIC}: message without a key")
    try:
        name = key.decode("utf-8")
    except UnicodeDecodeError:
        raise ContractError(f"{TOPIC}: key is not UTF-8") from None
    if value is None:
        return name, None
    record = decode(contract(TOPIC), value)
    if record.revocation_id != name:
        raise ContractError(f"{TOPIC}: key {name[:200]!r} is not the record's revocation_id {record.revocation_id!r}")
    return name, record


class RevocationSet:
    """The revocations in force, by key; the token check asks `refusal(principal)`.

    `loaded()` says the set is complete (its topic was read to the end once). A set made with
    `loaded=True` and fed by nobody refuses nothing until something is applied to it: for an
    app built without its consumers (route checks, unit tests)."""

    def __init__(self, service: str = "", loaded: bool = False) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._records: dict[str, Revocation] = {}
        self._loaded = threading.Event()
        if loaded:
            self._loaded.set()

    def apply(self, key: str, record: Revocation | None, now: float | None = None) -> None:
        """Take a record (or a tombstone: None) of `key`. Idempotent: the governance service applies
        its own revocations at once and then reads them again from the topic."""
        now = time.time() if now is None else now
        with self._lock:
            current = self._records.get(key)
            if record is None or record.expires_at.timestamp() <= now:
                self._records.pop(key, None)
            elif current is None or record.at >= current.at:
                # A user's later record covers more (a later issued_before); an earlier one that
                # arrives after it (the governance's own copy racing its feed) must not undo that.
                self._records[key] = record
            count = len(self._records)
        REVOCATIONS.labels(self.service).set(count)

    def refusal(self, principal: Principal) -> Revocation | None:
        """The revocation that refuses this token, or None."""
        with self._lock:
            token = self._records.get(f"token:{principal.token_id}") if principal.token_id else None
            user = self._records.get(f"user:{principal.user}")
        if token is not None:
            return token
        if user is not None and user.issued_before is not None and principal.issued_at < user.issued_before.timestamp():
            return user
        return None

    def prune(self, now: float | None = None) -> int:
        """Forget the records whose tokens have all expired (their tombstone may come later)."""
        now = time.time() if now is None else now
        with self._lock:
            expired = [k for k, r in self._records.items() if r.expires_at.timestamp() <= now]
            for k in expired:
                del self._records[k]
            count = len(self._records)
        REVOCATIONS.labels(self.service).set(count)
        return len(expired)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def loaded(self) -> bool:
        return self._loaded.is_set()

    def ready(self) -> bool:
        """For /healthz: complete, and (for a feed) still being fed."""
        return self.loaded()

    def wait_loaded(self, timeout: float) -> bool:
        return self._loaded.wait(timeout)

    def mark_loaded(self) -> None:
        self._loaded.set()


# The feed reads to the end it saw at start (partition EOF), polling briskly.
_FEED_CONSUMER: dict[str, Any] = {"enable.partition.eof": True, "fetch.wait.max.ms": 100}


class RevocationFeed(RevocationSet):
    """A `RevocationSet` fed by a consumer of alpr.revocations.v1 from the beginning.

    `run(stop)` is the worker (a `Workers` thread, or a thread of the service's own). A missing
    topic or an unreachable broker is waited out (the set stays not loaded and says so in the
    log), never a crash: the service's other work goes on, its data routes stay closed."""

    def __init__(
        self, service: str, bootstrap: str, topic_prefix: str = "", group_id: str | None = None, poll_s: float = 0.2
    ) -> None:
        super().__init__(service)
        self.topic = f"{topic_prefix}{TOPIC}"
        self.poll_s = poll_s
        self.delivery = DeliveryTracker()
        self.producer = Producer(producer_config(bootstrap, f"{service}-revocations", on_delivery=self.delivery))
        self.consumer = Consumer(
            consumer_config(
                bootstrap,
                group_id or f"{topic_prefix}alpr-{service}-revocations",
                f"{service}-revocations",
                **_FEED_CONSUMER,
            )
        )
        self.dead_letters = DeadLetters(self.producer, service, topic_prefix)
        self.failure: str | None = None
        self._ends: dict[int, int] | None = None  # partition -> end offset when assigned; None before
        self._behind: set[int] = set()
        self._dlq_from: dict[int, int] = {}  # below these offsets malformed records were dead-lettered before
        self._running = False
        self._closed = False
        self._said: set[str] = set()

    def ready(self) -> bool:
        return self.loaded() and self._running and self.failure is None

    # -- the worker ----------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        self._running = True
        last_prune = time.monotonic()
        try:
            while not stop.is_set():
                if self._ends is None and not self._assign():
                    stop.wait(1.0)
                    continue
                self.handle(self.consumer.consume(num_messages=500, timeout=self.poll_s))
                if time.monotonic() - last_prune > PRUNE_EVERY_S:
                    self.prune()
                    last_prune = time.monotonic()
        except Exception as err:
            self.failure = f"{type(err).__name__}: {err}"
            raise
        finally:
            self._running = False
            self.close()

    def _say_once(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            log.warning(message, extra={"service": self.service, "topic": self.topic})

    def _assign(self) -> bool:
        try:
            found = self.consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
            if found is None or found.error is not None or not found.partitions:
                self._say_once(
                    "revocations topic missing (run `alpr topics apply`); data routes refuse tokens until it is read"
                )
                return False
            partitions = sorted(found.partitions)
            ends = {
                p: self.consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=5)[1] for p in partitions
            }
            committed = self.consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=5)
        except KafkaException as err:
            self._say_once(f"revocations not readable yet: {err.args[0].str()}")
            return False
        self._dlq_from = {tp.partition: max(tp.offset, 0) for tp in committed}
        self._ends = ends
        self._behind = {p for p, end in ends.items() if end > 0}
        self.consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
        self._check_loaded()
        return True

    def handle(self, messages: list[Message]) -> None:
        """Apply one batch in order; malformed records go to the DLQ and the feed moves on."""
        dead: list[Message] = []
        for m in messages:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self._reached(*where(m)[1:])
                elif err.fatal():
                    raise KafkaException(err)
                else:
                    log.warning("revocations consumer error", extra={"service": self.service, "error": err.str()})
                continue
            _, partition, offset = where(m)
            try:
                key, record = parse_revocation(m.key(), m.value())
            except Exception as bad:  # the record's fault: it must not stop the revocations after it
                MESSAGES.labels(self.service, m.topic(), "dlq").inc()
                if offset >= self._dlq_from.get(partition, 0):
                    self.dead_letters.send(m, f"{type(bad).__name__}: {bad}")
                    dead.append(m)
            else:
                MESSAGES.labels(self.service, m.topic(), "ok").inc()
                was_loaded = self.loaded()
                self.apply(key, record)
                if record is not None and was_loaded:
                    REVOCATION_DELAY.labels(self.service).observe(max(0.0, time.time() - record.at.timestamp()))
            self._reached(partition, offset + 1)
        if dead:
            self._mark_dead_lettered(dead)

    def _reached(self, partition: int, position: int) -> None:
        if partition in self._behind and self._ends is not None and position >= self._ends.get(partition, 0):
            self._behind.discard(partition)
            self._check_loaded()

    def _check_loaded(self) -> None:
        if not self._behind and not self.loaded():
            self.mark_loaded()
            log.info("revocations loaded", extra={"service": self.service, "topic": self.topic, "in_force": len(self)})

    def _mark_dead_lettered(self, dead: list[Message]) -> None:
        """Commit past the dead letters once the DLQ has them (commit after the effect)."""
        try:
            self.delivery.check(self.producer, 10.0)
        except DeliveryError as err:
            log.warning(
                "revocation dead letters not acknowledged; a restart sends them again",
                extra={"service": self.service, "error": str(err)},
            )
            return
        offsets: dict[int, int] = {}
        for m in dead:
            _, partition, offset = where(m)
            offsets[partition] = max(offsets.get(partition, 0), offset + 1)
        for attempt, backoff in zip(range(COMMIT_ATTEMPTS), backoffs(), strict=False):
            try:
                self.consumer.commit(
                    offsets=[TopicPartition(self.topic, p, o) for p, o in offsets.items()], asynchronous=False
                )
                break
            except KafkaException as err:
                error = err.args[0]
                if attempt == COMMIT_ATTEMPTS - 1 or not (error.retriable() or error.code() in _COORDINATOR_MOVING):
                    log.warning(
                        "revocations commit failed; a restart dead-letters these again",
                        extra={"service": self.service, "error": error.str()},
                    )
                    return
                time.sleep(backoff)  # backing off a group coordinator that is (re)starting
        for p, o in offsets.items():
            self._dlq_from[p] = max(self._dlq_from.get(p, 0), o)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.producer.flush(5.0)
        finally:
            self.consumer.close()
