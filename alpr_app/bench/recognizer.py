"""`alpr bench recognizer`: frames/s and latency through the real service code path.

Synthetic 1280x720 scenes (alpr.synth, 1-3 plates each) are JPEG-encoded and loaded into a
fresh frames topic (12 partitions, as the registry says); then one replica, the same
`build_consumer` the service runs, with the trained models, drains the backlog: decode,
batched detection and reading, reads produced and flushed, offsets committed. Figures:

- `frames_per_s`: backlog frames / time from the first poll to the last commit;
- `batch_ms_p50/p99`: one batch from poll to commit (what a frame waits once fetched);
- `inference_ms_per_frame`: the models alone on an in-memory batch (no Kafka, no decode).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC

import cv2
import numpy as np

from alpr.contracts.registry import Topic
from alpr.kafka.config import client_config
from alpr.measure import machine, percentile


def _frames(n: int, seed: int) -> list[bytes]:
    from alpr.synth.scene import render_scene

    rng = np.random.default_rng(seed)
    out = []
    for _i in range(n):
        scene = render_scene(rng, 1280, 720, n_plates=int(rng.integers(1, 4)))
        ok, buf = cv2.imencode(".jpg", scene.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        out.append(buf.tobytes())
    return out


STALL_S = 120.0  # a drain that reads nothing for this long has lost its broker


def run_bench(
    bootstrap: str, frames: int = 200, batch: int = 16, device: str = "auto", seed: int = 5, progress=print
) -> dict:
    from datetime import datetime

    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from alpr.contracts.models import utc_iso
    from alpr.errors import BrokerError
    from services.recognizer.main import build_consumer, load_models
    from services.recognizer.settings import RecognizerSettings

    prefix = f"bench.{uuid.uuid4().hex[:8]}."
    # Fail before minutes of rendering and model loading when there is no broker to measure.
    admin = AdminClient(client_config(bootstrap, **{"log_level": 4}))
    try:
        admin.list_topics(timeout=10)
    except KafkaException as err:
        raise BrokerError(
            f"cannot reach Kafka at {bootstrap}: {err.args[0].str()} (start one: alpr kafka start)"
        ) from None
    settings = RecognizerSettings(
        kafka_bootstrap=bootstrap, device=device, batch_max_frames=batch, batch_max_wait_ms=50
    )
    progress(f"rendering {frames} synthetic 1280x720 frames...")
    jpegs = _frames(frames, seed)
    progress("loading and warming up the models...")
    recognizer = load_models(settings)

    sample = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs[: min(len(jpegs), batch * 4)]]
    started = time.perf_counter()
    for i in range(0, len(sample), batch):
        recognizer.recognize(sample[i : i + batch])
    inference_ms = (time.perf_counter() - started) * 1000 / len(sample)

    partitions = {Topic.FRAMES: 12, Topic.READS: 1, Topic.FRAMES_DLQ: 1}  # frames: room for every replica
    topics = [t.on(prefix) for t in partitions]
    for f in admin.create_topics([NewTopic(t.on(prefix), n, 1) for t, n in partitions.items()]).values():
        f.result(timeout=30)
    try:
        producer = Producer(client_config(bootstrap, **{"linger.ms": 5, "message.max.bytes": 8 * 1024 * 1024}))
        now = utc_iso(datetime.now(UTC))
        for i, jpeg in enumerate(jpegs):
            camera = f"bench-cam-{i % 8}"
            headers = {
                "frame_id": f"{camera}:{1_800_000_000_000 + i}",
                "camera_id": camera,
                "facility_id": "bench",
                "lane": "L1",
                "direction": "entry",
                "captured_at": now,
                "ingested_at": now,
                "content_type": "image/jpeg",
            }
            producer.produce(topics[0], key=camera, value=jpeg, headers=list(headers.items()))
        producer.flush(60)
        progress(f"draining {frames} frames through one replica (batch {batch})...")
        consumer = build_consumer(settings, recognizer, topic_prefix=prefix, group_id=f"{prefix}rec")
        done, batches = 0, []
        first = None
        last_progress = time.perf_counter()
        try:
            while done < frames:
                t0 = time.perf_counter()
                result = consumer.handle(consumer.poll_batch())
                if result.consumed:
                    first = first or t0
                    batches.append((time.perf_counter() - t0) * 1000)
                    done += result.consumed
                    last_progress = time.perf_counter()
                elif time.perf_counter() - last_progress > STALL_S:
                    raise BrokerError(
                        f"no frames arrived for {STALL_S:.0f} s ({done} of {frames} read): is the broker healthy?"
                    )
            elapsed = time.perf_counter() - first
        finally:
            consumer.close()
    finally:
        for f in admin.delete_topics(topics).values():
            try:
                f.result(timeout=30)
            except Exception:
                pass
    return {
        "benchmark": "recognizer",
        "machine": machine(),
        "device": str(getattr(recognizer.detector, "device", device)),
        "frames": frames,
        "frame_size": "1280x720 JPEG q85",
        "batch_max_frames": batch,
        "frames_per_s": round(frames / elapsed, 2),
        "batch_ms_p50": round(percentile(batches, 50), 1),
        "batch_ms_p99": round(percentile(batches, 99), 1),
        "inference_ms_per_frame": round(inference_ms, 2),
        "detector": recognizer.detector.name,
        "reader": recognizer.reader_name,
    }
