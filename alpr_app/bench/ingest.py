"""`alpr bench ingest`: frames per second one ingest process publishes to the real broker.

Two figures, both with every frame acknowledged by Kafka (acks=all, idempotent):

- `publish`: ready 1280x720 JPEGs (an upload or a camera that sends JPEG) through the
  Publisher, headers and all;
- `encode_and_publish`: raw 1280x720 BGR pictures JPEG-encoded and published from one feed
  thread, the path of a file or stream source after selection;
- `upload`: POST /v1/frames through uvicorn, each answered after Kafka's acknowledgement,
  from 8 concurrent clients. Client and server share the process (and its GIL), so this
  figure is a floor for the upload path, and its latencies are what a camera waits.

The frames are synthetic scenes (alpr.synth when present, else the demo-footage lane
renderer), so JPEG sizes are those of a real-looking picture, not of a flat test card.
The benchmark writes to a fresh topic with the registry's partition count and deletes it.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from alpr.cameras import Camera
from alpr.contracts.registry import contract
from alpr.measure import machine  # noqa: F401  (re-exported for the CLI)
from services.ingest.frame import Frame, encode_jpeg
from services.ingest.publisher import FRAMES_TOPIC, Delivery, Publisher


def scenes(n: int, width: int = 1280, height: int = 720, seed: int = 11) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    try:
        from alpr.synth.scene import render_scene
    except ImportError:
        render_scene = None
    if render_scene is not None:
        return [render_scene(rng, width, height, n_plates=int(rng.integers(1, 3))).image for _ in range(n)]
    from services.ingest.footage import _car_sprite, _draw_car, _lane_background, synth_plates

    namer, artist = synth_plates()
    out = []
    for _ in range(n):
        frame = _lane_background(width, height, "BENCH", "entry")
        _draw_car(frame, _car_sprite(namer(rng), artist, rng, width), int(height * 0.3))
        out.append(frame)
    return out


def _cameras(n: int) -> list[Camera]:
    return [Camera(camera_id=f"bench-cam-{i}", facility_id="bench", lane=f"L{i}", direction="entry") for i in range(n)]


def _run(publisher: Publisher, frames, count: int, cameras: list[Camera], encode: tuple[int, int] | None) -> dict:
    """Publish `count` frames from one thread (waiting for room, like a file source) and wait for every ack."""
    stop = threading.Event()
    failed = [0]

    def done(delivery: Delivery) -> None:
        if not delivery.ok:
            failed[0] += 1

    start = datetime.now(UTC)
    began = time.perf_counter()
    size = 0
    for i in range(count):
        item = frames[i % len(frames)]
        jpeg = encode_jpeg(item, *encode) if encode else item
        size += len(jpeg)
        frame = Frame(cameras[i % len(cameras)], start + timedelta(milliseconds=i), jpeg)
        publisher.publish_waiting(frame, "bench", stop, done)
    publisher.wait_idle(120)
    elapsed = time.perf_counter() - began
    return {
        "frames": count,
        "seconds": round(elapsed, 3),
        "frames_per_s": round(count / elapsed, 1),
        "mb_per_s": round(size / elapsed / 1e6, 1),
        "mean_jpeg_kb": round(size / count / 1024, 1),
        "failed": failed[0],
    }


def _uploads(settings, prefix: str, jpegs: list[bytes], count: int, concurrency: int = 8) -> dict:
    """Serve the upload API on a free port and post `count` frames from `concurrency` async clients."""
    import asyncio

    import httpx
    import uvicorn

    from alpr.cameras import Registry, new_token
    from alpr.net import free_port
    from services.ingest.main import build_service

    token, digest = new_token()
    registry = Registry.model_validate(
        {
            "facilities": [{"facility_id": "bench", "capacity": 1}],
            "cameras": [
                {
                    "camera_id": "bench-up",
                    "facility_id": "bench",
                    "lane": "L1",
                    "direction": "entry",
                    "upload_token_sha256": digest,
                }
            ],
        }
    )
    service = build_service(settings, registry, topic_prefix=prefix)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(service.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = datetime.now(UTC)

    async def client(worker: int, client: httpx.AsyncClient) -> None:
        for i in range(worker, count, concurrency):
            captured = start + timedelta(milliseconds=i)
            began = time.perf_counter()
            r = await client.post(
                "/v1/frames",
                content=jpegs[i % len(jpegs)],
                headers={
                    "X-Camera-Id": "bench-up",
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "image/jpeg",
                    "X-Captured-At": captured.isoformat(),
                },
            )
            latencies.append(time.perf_counter() - began)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    async def main() -> float:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            while not server.started:
                await asyncio.sleep(0.01)  # waiting for uvicorn to bind
            began = time.perf_counter()
            await asyncio.gather(*(client(w, http) for w in range(concurrency)))
            return time.perf_counter() - began

    try:
        elapsed = asyncio.run(main())
    finally:
        server.should_exit = True
        thread.join(10)
        service.close()
    latencies.sort()
    return {
        "frames": count,
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "frames_per_s": round(count / elapsed, 1),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 1),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "status_codes": statuses,
    }


def run_bench(
    bootstrap: str,
    frames: int = 2000,
    quality: int = 85,
    max_bytes: int = 1_000_000,
    queue_frames: int = 256,
    settings=None,
) -> dict:
    """Measure both figures against the broker at `bootstrap`; returns a JSON-able summary."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from alpr.kafka.config import admin_config

    topic = f"bench.{uuid.uuid4().hex[:8]}.{FRAMES_TOPIC}"
    admin = AdminClient(admin_config(bootstrap))
    admin.create_topics([NewTopic(topic, contract(FRAMES_TOPIC).partitions, 1)])[topic].result(timeout=30)
    try:
        raw = scenes(8)
        jpegs = [encode_jpeg(image, quality, max_bytes) for image in raw]
        cameras = _cameras(4)
        publisher = Publisher(bootstrap, topic, queue_frames=queue_frames, client_id="ingest-bench").start()
        try:
            _run(publisher, jpegs, min(200, frames), cameras, None)  # warm-up: connections, metadata
            publish = _run(publisher, jpegs, frames, cameras, None)
            encoded = _run(publisher, raw, max(100, frames // 4), cameras, (quality, max_bytes))
        finally:
            publisher.close(30)
        upload = _uploads(settings, topic[: -len(FRAMES_TOPIC)], jpegs, max(100, frames // 4)) if settings else None
    finally:
        for future in admin.delete_topics([topic]).values():
            try:
                future.result(timeout=30)
            except Exception:  # a leftover bench topic is harmless (1-day retention)
                pass
    return {
        "machine": machine(),
        "frame_size": "1280x720",
        "jpeg_quality": quality,
        "partitions": contract(FRAMES_TOPIC).partitions,
        "queue_frames": queue_frames,
        "publish": publish,
        "encode_and_publish": encoded,
        **({"upload": upload} if upload else {}),
    }
