"""Frames to alpr.frames.v1: one idempotent producer, a bounded queue, and a stated policy for a slow Kafka.

At most `queue_frames` frames are handed to Kafka and not yet acknowledged. When that queue
is full, each kind of source gets the behaviour that loses nothing silently:

- **uploads** (`publish_confirmed`) are refused at once with `QueueFull`; the API answers
  503 + Retry-After, and the camera keeps the frame and sends it again;
- **files** (`publish_waiting`) wait for room: a file can be paused, so none of it is dropped;
- **live streams** (`offer`) park frames in a small drop-oldest buffer; a camera cannot be
  paused and its newest picture is worth more than its oldest. Every drop is counted
  (`dropped_overflow`) and each overflow episode is logged once with its size.

A live or uploaded frame that Kafka does not acknowledge within `delivery_timeout_s` counts
as `failed` and is logged with its frame id. Replayed files have their own producer whose
librdkafka timeout is `replay_delivery_timeout_s` (5 minutes): through a broker restart it
retries in order (idempotent producer), where re-sending timed-out frames ourselves put
them behind newer frames and delivered a lane's frames out of capture order. librdkafka
reconnects by itself, so when the broker returns ingestion resumes without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from alpr.contracts.registry import Topic
from alpr.kafka.config import producer_config
from services.ingest import metrics
from services.ingest.frame import Frame

log = logging.getLogger(__name__)

FRAMES_TOPIC = Topic.FRAMES


class QueueFull(Exception):
    """Kafka is not keeping up: the frame was not taken (answer 503 + Retry-After)."""


@dataclass(frozen=True)
class Delivery:
    """Kafka's answer about one frame: where it was written, or why it was not."""

    frame_id: str
    partition: int = -1
    offset: int = -1
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


OnDone = Callable[[Delivery], None]


REPLAYS = ("file", "folder")  # sources that can wait for Kafka: their own, patient producer

# Delivery errors of a broker that is away or restarting: worth sending a replayed frame again.
_RETRY_CODES = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError._ALL_BROKERS_DOWN,
    }
)


class Publisher:
    """Thread-safe: sources and request handlers publish from their own threads.

    A sender thread serves delivery callbacks and moves parked stream frames into Kafka as
    acknowledgements make room. Call `start()` before publishing and `close()` at the end.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str = FRAMES_TOPIC,
        *,
        queue_frames: int = 256,
        buffer_frames: int = 64,
        delivery_timeout_s: float = 10.0,
        replay_delivery_timeout_s: float = 300.0,
        client_id: str = "ingest",
        producer_extra: dict | None = None,
    ) -> None:
        self.topic = topic
        self.queue_frames = queue_frames
        self.delivery_timeout_s = delivery_timeout_s

        def config(timeout_s: float, suffix: str = "") -> dict:
            return producer_config(
                bootstrap,
                client_id + suffix,
                **{
                    "message.timeout.ms": int(timeout_s * 1000),
                    # JPEG does not compress: lz4 would spend CPU for nothing on the hottest topic.
                    "compression.type": "none",
                    # The broker's default max.message.bytes (1 MB) caps one batch; frames are ~100-300 kB.
                    "batch.size": 1_000_000,
                    # Our queue is the bound; librdkafka's only needs to be larger so it never refuses first.
                    "queue.buffering.max.messages": queue_frames + 1000,
                    "error_cb": self._on_error,
                    "logger": logging.getLogger("librdkafka"),
                    **(producer_extra or {}),
                },
            )

        self._producer = Producer(config(delivery_timeout_s))
        self._replay = Producer(config(replay_delivery_timeout_s, "-replay"))
        self._cond = threading.Condition()
        self._in_flight = 0
        self._buffer: deque[tuple[Frame, str, OnDone | None]] = deque()
        self._buffer_max = buffer_frames
        self._overflow_dropped = 0
        self._broker_down = False
        self._stopping = False
        self._sender: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Publisher:
        self._sender = threading.Thread(target=self._send_loop, name="ingest-sender", daemon=True)
        self._sender.start()
        return self

    def close(self, timeout: float = 30.0) -> int:
        """Deliver what was accepted (buffer included) within `timeout`; return frames left undelivered."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._buffer and time.monotonic() < deadline:
                self._cond.wait(0.05)
        self._stopping = True
        if self._sender:
            self._sender.join(max(0.0, deadline - time.monotonic()))
        remaining = self._replay.flush(max(0.0, deadline - time.monotonic()))
        remaining += self._producer.flush(max(0.0, deadline - time.monotonic()))
        left = remaining + len(self._buffer)
        if left:
            log.error("frames not delivered at shutdown", extra={"frames": left, "topic": self.topic})
        return left

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the three policies ------------------------------------------------------------------

    def publish(self, frame: Frame, source: str, on_done: OnDone | None = None) -> None:
        """Hand a frame to Kafka now or raise QueueFull; `on_done` runs on the sender thread."""
        with self._cond:
            if self._in_flight >= self.queue_frames:
                raise QueueFull(f"{self._in_flight} frames are waiting for Kafka")
            self._produce(frame, source, on_done)

    def publish_waiting(self, frame: Frame, source: str, stop: threading.Event, on_done: OnDone | None = None) -> bool:
        """Wait for room, then hand the frame to Kafka; False if `stop` was set first."""
        with self._cond:
            while self._in_flight >= self.queue_frames:
                if stop.is_set():
                    return False
                self._cond.wait(0.1)
            self._produce(frame, source, on_done)
            return True

    def offer(self, frame: Frame, source: str, on_done: OnDone | None = None) -> None:
        """Live frames: straight to Kafka when there is room, else parked; the oldest parked frame goes first."""
        with self._cond:
            if not self._buffer and self._in_flight < self.queue_frames:
                self._produce(frame, source, on_done)
                return
            if len(self._buffer) >= self._buffer_max:
                dropped, dropped_source, _ = self._buffer.popleft()
                metrics.count(dropped_source, "dropped_overflow")
                if self._overflow_dropped == 0:
                    log.warning(
                        "Kafka queue full: dropping oldest live frames",
                        extra={"frame_id": dropped.frame_id, "queue_frames": self.queue_frames},
                    )
                self._overflow_dropped += 1
            self._buffer.append((frame, source, on_done))
            metrics.BUFFER_DEPTH.labels(metrics.SERVICE).set(len(self._buffer))

    async def publish_confirmed(self, frame: Frame, source: str = "upload") -> Delivery:
        """Publish and wait for Kafka's acknowledgement (or its refusal); raises QueueFull at once when full."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Delivery] = loop.create_future()

        def done(delivery: Delivery) -> None:
            loop.call_soon_threadsafe(lambda: answer.done() or answer.set_result(delivery))

        self.publish(frame, source, done)
        try:
            # librdkafka answers within message.timeout.ms; the margin covers a busy sender thread.
            return await asyncio.wait_for(answer, self.delivery_timeout_s + 5)
        except TimeoutError:
            return Delivery(frame.frame_id, error="no answer from Kafka in time")

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every accepted frame has Kafka's answer; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._in_flight or self._buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    # -- state -------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def kafka_ok(self) -> bool:
        """For /healthz: after 'all brokers down', ask for metadata until the broker answers again."""
        if not self._broker_down:
            return True
        try:
            self._producer.list_topics(self.topic, timeout=1.0)
        except KafkaException:
            return False
        self._broker_down = False
        return True

    # -- internals ---------------------------------------------------------------------------

    def _produce(self, frame: Frame, source: str, on_done: OnDone | None) -> None:
        # Called with the condition held, so the in-flight count and the produce agree.
        producer = self._replay if source in REPLAYS else self._producer
        try:
            producer.produce(
                self.topic,
                key=frame.key,
                value=frame.jpeg,
                headers=frame.headers(),
                on_delivery=lambda err, msg: self._delivered(frame, source, on_done, err, msg),
            )
        except BufferError as err:
            raise QueueFull(f"librdkafka queue full: {err}") from None
        self._in_flight += 1
        metrics.QUEUE_DEPTH.labels(metrics.SERVICE).set(self._in_flight)

    def _delivered(
        self, frame: Frame, source: str, on_done: OnDone | None, err: KafkaError | None, msg: Message
    ) -> None:
        if (
            err is not None
            and source in REPLAYS
            and not self._stopping
            and (err.retriable() or err.code() in _RETRY_CODES)
        ):
            # A replayed file waits for Kafka (its policy): a frame that timed out (a broker
            # away longer than replay_delivery_timeout_s) is sent again, not dropped; it now
            # lands after newer frames. The same frame_id makes it harmless.
            metrics.count(source, "retried")
            log.warning(
                "frame not delivered; sending it again", extra={"frame_id": frame.frame_id, "reason": err.str()}
            )
            with self._cond:
                self._in_flight -= 1
                try:
                    self._produce(frame, source, on_done)
                    return
                except QueueFull:
                    self._cond.notify_all()  # fall through: counted as failed below
            metrics.count(source, "failed")
            log.error(
                "frame not delivered", extra={"frame_id": frame.frame_id, "reason": err.str(), "topic": self.topic}
            )
            if on_done is not None:
                on_done(Delivery(frame.frame_id, error=err.str()))
            return
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()
        metrics.QUEUE_DEPTH.labels(metrics.SERVICE).set(self._in_flight)
        if err is None:
            self._broker_down = False
            metrics.count(source, "published")
            metrics.DELIVERY_SECONDS.labels(metrics.SERVICE).observe(
                max(0.0, time.time() - frame.ingested_at.timestamp())
            )
            delivery = Delivery(frame.frame_id, msg.partition(), msg.offset())
        else:
            metrics.count(source, "failed")
            log.error(
                "frame not delivered", extra={"frame_id": frame.frame_id, "reason": err.str(), "topic": self.topic}
            )
            delivery = Delivery(frame.frame_id, error=err.str())
        if on_done is not None:
            try:
                on_done(delivery)
            except Exception:  # a caller that went away (closed event loop) must not stop the sender
                log.exception("delivery callback failed", extra={"frame_id": frame.frame_id})

    def _send_loop(self) -> None:
        while not self._stopping:
            try:
                self._move_parked()
                self._producer.poll(0.025)
                self._replay.poll(0.025)
            except Exception:  # the sender must outlive any one bad callback
                log.exception("publisher sender loop error")

    def _move_parked(self) -> None:
        with self._cond:
            while self._buffer and self._in_flight < self.queue_frames:
                frame, source, on_done = self._buffer.popleft()
                try:
                    self._produce(frame, source, on_done)
                except QueueFull:
                    self._buffer.appendleft((frame, source, on_done))
                    break
            metrics.BUFFER_DEPTH.labels(metrics.SERVICE).set(len(self._buffer))
            if not self._buffer and self._overflow_dropped:
                log.warning("Kafka queue has room again", extra={"frames_dropped": self._overflow_dropped})
                self._overflow_dropped = 0
            self._cond.notify_all()

    def _on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._broker_down = True
        log.warning("kafka client error", extra={"reason": err.str(), "topic": self.topic})
