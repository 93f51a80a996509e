"""A camera feed: source → selection → JPEG → publisher, with reconnection for live streams.

`Feed.run(stop)` is a `alpr.runtime.Worker`. A stream that fails is reopened after an
exponential backoff (with jitter, so a facility's cameras do not reconnect in lockstep after
a switch reboots); each failure is a log line, a `alpr_ingest_source_reconnects_total`
increment, `alpr_ingest_source_up{camera}=0`, and a `backoff` state in /v1/sources.
A file is read once: it ends `finished`, or `failed` with the reason (missing, corrupt).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from alpr.cameras import Camera
from services.ingest import metrics
from services.ingest.frame import Frame, FrameTooLarge, encode_jpeg
from services.ingest.publisher import Delivery, Publisher
from services.ingest.selection import Selector
from services.ingest.sources import (
    Captured,
    FrameUnreadable,
    SourceError,
    SourceStatus,
    image_folder,
    stream,
    video_file,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Encoding:
    quality: int = 85
    max_bytes: int = 1_000_000


@dataclass(frozen=True)
class Backoff:
    """Exponential reconnect delays: initial, doubled per consecutive failure, capped."""

    initial_s: float = 1.0
    max_s: float = 60.0

    def delay(self, failures: int) -> float:
        base = min(self.max_s, self.initial_s * 2 ** max(0, failures - 1))
        return base * random.uniform(0.8, 1.0)


@dataclass
class Feed:
    """Publishes one camera's source. File sources wait for Kafka; live streams drop oldest when it is slow."""

    camera: Camera
    publisher: Publisher
    selector: Selector | None
    encoding: Encoding = field(default_factory=Encoding)
    backoff: Backoff = field(default_factory=Backoff)
    base_dir: Path = Path(".")
    start: datetime | None = None  # capture time of a file's first frame
    stream_timeout_s: float = 10.0
    status: SourceStatus = field(init=False)
    tally: Counter = field(default_factory=Counter)  # this feed's outcomes, for `alpr ingest replay`

    def __post_init__(self) -> None:
        self.status = SourceStatus(self.camera.camera_id, self.kind, self.camera.public_source())
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        if self.camera.is_stream:
            return "stream"
        return "folder" if self.path.is_dir() else "file"

    @property
    def path(self) -> Path:
        return self.camera.source_path(self.base_dir)

    def run(self, stop: threading.Event) -> None:
        if self.camera.is_stream:
            self._run_stream(stop)
        else:
            self._run_file(stop)

    # -- files: once, waiting for Kafka ------------------------------------------------------

    def _run_file(self, stop: threading.Event) -> None:
        start = self.start or self.camera.replay_start or datetime.now(UTC)
        frames = (
            image_folder(self.path, start, self.camera.fps_cap)
            if self.kind == "folder"
            else video_file(self.path, start)
        )
        self._set_state("streaming")
        metrics.SOURCE_UP.labels(self.camera.camera_id).set(1)
        speed = self.camera.replay_speed
        first_capture, wall_start = None, time.monotonic()
        try:
            for item in frames:
                if stop.is_set():
                    break
                if speed and not isinstance(item, FrameUnreadable):
                    # Paced replay: lanes replayed side by side reach Kafka in capture order,
                    # as live cameras would (stream clocks downstream depend on it).
                    first_capture = first_capture or item[0]
                    due = wall_start + (item[0] - first_capture).total_seconds() / speed
                    if stop.wait(max(0.0, due - time.monotonic())):
                        break
                self._handle(item, lambda frame: self.publisher.publish_waiting(frame, self.kind, stop, self._done))
        except SourceError as err:
            self._error(str(err))
            self._set_state("failed")
            log.error("file source failed", extra={"camera": self.camera.camera_id, "reason": str(err)})
            return
        finally:
            metrics.SOURCE_UP.labels(self.camera.camera_id).set(0)
        self._set_state("finished")
        log.info("file source finished", extra={"camera": self.camera.camera_id, "counts": dict(self.tally)})

    # -- streams: reconnect with backoff, drop oldest when Kafka is slow -----------------------

    def _run_stream(self, stop: threading.Event) -> None:
        camera_id = self.camera.camera_id
        while not stop.is_set():
            try:
                for item in stream(self.camera.source or "", self.stream_timeout_s):
                    if stop.is_set():
                        return
                    if self.status.state != "streaming":
                        self._connected()
                    self._handle(item, lambda frame: self.publisher.offer(frame, "stream", self._done))
                raise SourceError("stream ended")
            except SourceError as err:
                with self._lock:
                    self.status.failures += 1
                    self.status.reconnects += 1
                    self.status.last_error = str(err)
                    delay = self.backoff.delay(self.status.failures)
                    self.status.retry_in_s = round(delay, 3)
                    self.status.state = "backoff"
                metrics.SOURCE_UP.labels(camera_id).set(0)
                metrics.SOURCE_RECONNECTS.labels(metrics.SERVICE).inc()
                log.warning(
                    "stream unavailable, reconnecting after backoff",
                    extra={
                        "camera": camera_id,
                        "source": self.status.source,
                        "reason": str(err),
                        "failures": self.status.failures,
                        "retry_in_s": round(delay, 3),
                    },
                )
                stop.wait(delay)

    def _connected(self) -> None:
        with self._lock:
            if self.status.failures:
                log.info(
                    "stream connected", extra={"camera": self.camera.camera_id, "after_failures": self.status.failures}
                )
            self.status.state, self.status.failures, self.status.retry_in_s = "streaming", 0, None
        metrics.SOURCE_UP.labels(self.camera.camera_id).set(1)

    # -- one frame ---------------------------------------------------------------------------

    def _handle(self, item: Captured | FrameUnreadable, publish: Callable[[Frame], object]) -> None:
        camera_id = self.camera.camera_id
        if isinstance(item, FrameUnreadable):
            self._error(str(item))
            log.warning("unreadable frame skipped", extra={"camera": camera_id, "reason": str(item)})
            return
        captured_at, image = item
        self._count("seen")
        with self._lock:
            self.status.frames_seen += 1
            self.status.last_frame_at = captured_at
        metrics.CAMERA_FRAMES_SEEN.labels(camera_id).set(self.status.frames_seen)
        metrics.CAMERA_LAST_CAPTURE.labels(camera_id).set(captured_at.timestamp())
        outcome = self.selector.consider(captured_at, image) if self.selector else "selected"
        self._count(outcome)
        if outcome != "selected":
            return
        with self._lock:
            self.status.frames_selected += 1
        metrics.CAMERA_FRAMES_SELECTED.labels(camera_id).set(self.status.frames_selected)
        try:
            jpeg = encode_jpeg(image, self.encoding.quality, self.encoding.max_bytes)
        except (FrameTooLarge, ValueError) as err:
            self._error(str(err))
            log.error("frame not encoded", extra={"camera": camera_id, "reason": str(err)})
            return
        publish(Frame(self.camera, captured_at, jpeg))

    def _done(self, delivery: Delivery) -> None:
        # Runs on the publisher's sender thread.
        with self._lock:
            self.tally["published" if delivery.ok else "failed"] += 1
            self.status.counts = dict(self.tally)

    def _count(self, outcome: str) -> None:
        metrics.count(self.kind, outcome)
        with self._lock:
            self.tally[outcome] += 1
            self.status.counts = dict(self.tally)

    def _error(self, reason: str) -> None:
        self._count("error")
        with self._lock:
            self.status.errors += 1
            self.status.last_error = reason

    def _set_state(self, state: str) -> None:
        with self._lock:
            self.status.state = state


def selector_for(camera: Camera, motion_threshold: float, hold_s: float) -> Selector:
    return Selector(camera, motion_threshold=motion_threshold, hold_s=hold_s)
