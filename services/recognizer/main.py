"""The recognizer service: alpr.frames.v1 -> batched detection and reading -> alpr.reads.v1.

Any number of replicas share the frames topic as one consumer group. Each batch is decoded
(per message, so a bad frame goes to the DLQ alone), recognized in one detector call and one
reader call, published, flushed, and only then committed (alpr/kafka/consumer.py). A replica
killed mid-batch leaves its offsets uncommitted: another replica redoes those frames and
publishes the same read_ids.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import Producer
from fastapi import FastAPI

from alpr.contracts.models import ModelVersions
from alpr.contracts.registry import Topic, encode
from alpr.http import create_app
from alpr.kafka import security as kafka_security
from alpr.kafka.consumer import BatchConsumer
from alpr.metrics import E2E_LATENCY
from alpr.runtime import Workers
from services.recognizer import metrics
from services.recognizer.frames import Frame, encode_context, in_lane, parse_frame, reads_for_frame
from services.recognizer.misreads import misread
from services.recognizer.models import Recognizer
from services.recognizer.settings import RecognizerSettings

SERVICE = "recognizer"
log = logging.getLogger(__name__)


class FramePipeline:
    """The consumer's processor and writer around one `Recognizer`."""

    def __init__(self, settings: RecognizerSettings, recognizer: Recognizer, topic_prefix: str = "") -> None:
        self.settings = settings
        self.recognizer = recognizer
        self.reads_topic = Topic.READS.on(topic_prefix)
        self.models = ModelVersions(
            detector=getattr(recognizer.detector, "name", "detector"),
            reader=getattr(recognizer, "reader_name", None) or getattr(recognizer.reader, "name", "reader"),
        )
        self.consumer: BatchConsumer | None = None

    def process(self, message) -> Frame:
        started = time.perf_counter()
        meta, image = parse_frame(message.value(), message.headers(), self.settings.max_frame_pixels)
        metrics.STAGE_SECONDS.labels("decode").observe(time.perf_counter() - started)
        return Frame(meta, image, message)

    def write(self, frames: list[Frame], producer: Producer) -> None:
        started = time.perf_counter()
        try:
            results = self.recognizer.recognize([f.image for f in frames])
        except Exception:
            # One frame can break a whole batch (a pathological image); find it alone.
            log.warning(
                "batch inference failed; retrying frame by frame", extra={"service": SERVICE, "frames": len(frames)}
            )
            results = []
            for f in frames:
                try:
                    results.append(self.recognizer.recognize([f.image])[0])
                except Exception as err:
                    results.append(err)
        inferred = time.perf_counter()
        metrics.STAGE_SECONDS.labels("inference").observe(inferred - started)
        metrics.BATCH_FRAMES.observe(len(frames))
        now = datetime.now(UTC)
        for frame, plates in zip(frames, results):
            if isinstance(plates, Exception):
                if self.consumer is not None and frame.message is not None:
                    self.consumer.dead_letters.send(
                        frame.message, f"inference failed: {type(plates).__name__}: {plates}"
                    )
                metrics.FRAMES.labels("dlq").inc()
                continue
            lane_plates = in_lane(frame.headers, plates)
            if outside := len(plates) - len(lane_plates):
                metrics.OUTSIDE_REGION.labels(frame.headers.camera_id).inc(outside)
            reads = reads_for_frame(
                frame.headers,
                lane_plates,
                self.models,
                now,
                self.settings.min_read_confidence,
                self.settings.crop_jpeg_quality,
                self.settings.min_plate_chars,
                self.settings.edge_margin_px,
            )
            if reads[0].outcome != "no_plate" and self.settings.context_width:
                # One context frame per frame, on each of its plate boxes' reads.
                context = encode_context(frame.image, self.settings.context_width, self.settings.context_jpeg_quality)
                reads = [r.model_copy(update={"context_jpeg_b64": context}) for r in reads]
            if self.settings.inject_misreads:
                reads = [
                    r.model_copy(update={"plate": misread(r.camera_id, r.plate, self.settings.inject_misreads)})
                    if r.plate
                    else r
                    for r in reads
                ]
            for read in reads:
                producer.produce(self.reads_topic, key=read.facility_id, value=encode(read))
                metrics.READS.labels(read.outcome).inc()
            producer.poll(0)
            # From the reads, not the boxes: boxes that are no plate (too short) leave a no-plate frame.
            metrics.FRAMES.labels("no_plate" if reads[0].outcome == "no_plate" else "plates").inc()
            E2E_LATENCY.labels(SERVICE, "read").observe((now - frame.headers.captured_at).total_seconds())
        metrics.STAGE_SECONDS.labels("total").observe(time.perf_counter() - started)


def build_consumer(
    settings: RecognizerSettings, recognizer: Recognizer, topic_prefix: str = "", group_id: str | None = None
) -> BatchConsumer:
    pipeline = FramePipeline(settings, recognizer, topic_prefix)
    consumer = BatchConsumer(
        service=SERVICE,
        topics=[Topic.FRAMES.on(topic_prefix)],
        # Under the topic prefix like every group (the ACLs grant `<prefix>alpr-recognizer*`).
        group_id=group_id or f"{topic_prefix}{settings.consumer_group}",
        bootstrap=settings.kafka_bootstrap,
        process=pipeline.process,
        write=pipeline.write,
        max_batch=settings.batch_max_frames,
        max_wait_s=settings.batch_max_wait_ms / 1000,
        topic_prefix=topic_prefix,
        # Large frames: fetch enough for a full batch in one round trip.
        consumer_overrides={"max.partition.fetch.bytes": 8 * 1024 * 1024},
    )
    pipeline.consumer = consumer
    return consumer


def load_models(settings: RecognizerSettings) -> Recognizer:
    from services.recognizer.models import load_recognizer
    from services.recognizer.models.model_files import resolve_models_dir

    recognizer = load_recognizer(
        str(settings.weights_dir) if settings.weights_dir else None,
        device=settings.device,
        max_pixels=settings.max_frame_pixels,
        detector_imgsz=settings.detector_imgsz,
        detector=settings.detector,
        reader=settings.reader,
        models_dir=resolve_models_dir(settings.models_dir, settings.data_dir),
        more_cuts_below=settings.more_cuts_below,
    )
    recognizer.warmup()  # before /healthz says ready: the first real batch must not pay for it
    metrics.READY.set(1)
    return recognizer


def build_app(workers: Workers) -> FastAPI:
    # No ALPR data is served here (reads go to Kafka), so the API is operations only.
    return create_app(SERVICE, checks={"models": lambda: metrics.READY._value.get() == 1, "workers": workers.alive})


@dataclass
class RecognizerReplica:
    """Everything one replica runs (its models, the frames consumer, the operations API), owned
    by one object as in every service. It serves no ALPR data, so it has no routes of its own
    (docs/architecture.md, "Where this differs from the anchors")."""

    settings: RecognizerSettings
    recognizer: Recognizer
    workers: Workers = field(default_factory=Workers)
    app: FastAPI | None = None

    def start(self) -> None:
        self.workers.start("frames", build_consumer(self.settings, self.recognizer, self.settings.topic_prefix).run)


def build_service(settings: RecognizerSettings, recognizer: Recognizer | None = None) -> RecognizerReplica:
    """The replica with its models loaded and warmed (`recognizer`: models already loaded)."""
    replica = RecognizerReplica(settings, recognizer or load_models(settings))
    replica.app = build_app(replica.workers)
    return replica


def run(settings: RecognizerSettings) -> int:
    """One replica until SIGTERM: the models loaded and warmed, the frames consumer, the API
    (alpr.runtime.serve; /healthz turns ready once the models answered)."""
    from alpr.runtime import serve
    from alpr.settings import ensure_port_free

    # Every Kafka client of this process authenticates as this service (TLS, SCRAM: alpr.kafka.security).
    kafka_security.configure(settings)
    ensure_port_free(settings.http_host, settings.http_port)
    replica = build_service(settings)
    replica.start()
    assert replica.app is not None
    return serve(
        replica.app,
        replica.workers,
        settings.http_host,
        settings.http_port,
        settings.log_level,
        trusted_proxies=settings.trusted_proxies,
    )
