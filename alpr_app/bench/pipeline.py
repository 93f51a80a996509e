"""`alpr bench pipeline`: the whole chain at a given frame rate, with the real broker and stores.

Ingest (uploads from an entry and an exit camera), the recognizer, occupancy and revenue run
as their own processes, exactly as `alpr demo` starts them. Vehicles enter and, a little later,
leave; each is seen in `frames_per_vehicle` frames per lane, uploaded at `rate` frames/s with
`X-Captured-At` = the moment of the upload, so every latency starts at frame capture:

- capture -> read: the first read of a frame on alpr.reads.v1;
- capture -> occupancy event: an event on alpr.occupancy.v1 minus the capture time of the
  read that caused it (`origin_captured_at`);
- exit capture -> revenue match: a match on alpr.revenue-matches.v1 minus its exit time. A
  session is decided once the facility's stream time passes its exit (payment window 0 here),
  so this includes waiting for the next vehicle: at low rates it measures traffic, not work.

Latencies use the Kafka timestamp that the producing service set when it published.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from alpr.contracts.registry import Topic
from alpr.kafka.config import client_config
from alpr.measure import machine, percentile

TOKEN = "bench-camera-token-not-a-secret"
PORTS = {"ingest": 8101, "recognizer": 8102, "occupancy": 8103, "revenue": 8104}


def _cameras_file(path: Path) -> Path:
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    path.write_text(
        "facilities:\n  - {facility_id: bench-1, name: Bench garage, capacity: 100000}\n"
        "cameras:\n"
        f"  - {{camera_id: bench-entry, facility_id: bench-1, lane: L1, direction: entry, upload_token_sha256: {digest}}}\n"
        f"  - {{camera_id: bench-exit, facility_id: bench-1, lane: L2, direction: exit, upload_token_sha256: {digest}}}\n"
    )
    return path


def _tariff_file(path: Path) -> Path:
    path.write_text(
        'version: bench\ntimezone: UTC\nfacilities:\n  "*": {hourly_rate_cents: 200, daily_max_cents: 1000, '
        "grace_minutes: 0, permit_types: [monthly]}\n"
    )
    return path


def _frames(vehicles: int, seed: int) -> list[tuple[str, bytes]]:
    """(plate, JPEG) per vehicle: a plate on a 1280x720 lane picture."""
    import cv2
    import numpy as np

    from alpr.synth.plate import random_plate_text, random_style, render_plate

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(vehicles):
        style = random_style(rng)
        plate = random_plate_text(style, rng, vanity_p=0.0)
        canvas = np.full((720, 1280, 3), 95, np.uint8)
        flat = render_plate(plate, style, rng)
        flat = cv2.resize(flat, (280, int(280 * flat.shape[0] / flat.shape[1])))
        canvas[400 : 400 + flat.shape[0], 500 : 500 + flat.shape[1]] = flat[..., :3]
        ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 85])
        out.append((plate, buf.tobytes()))
    return out


class _Latencies:
    def __init__(self, bootstrap: str, prefix: str) -> None:
        from confluent_kafka import Consumer

        self.c = Consumer(
            client_config(
                bootstrap,
                **{
                    "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                    "auto.offset.reset": "earliest",
                    "log_level": 3,
                },
            )
        )
        self.prefix = prefix
        self.c.subscribe([prefix + t for t in (Topic.READS, Topic.OCCUPANCY, Topic.REVENUE_MATCHES)])
        self.read_ms: dict[str, float] = {}
        self.occupancy_ms: list[float] = []
        self.match_ms: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def _ms(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000

    def _run(self) -> None:
        while not self.stop.is_set():
            for m in self.c.consume(500, 0.2):
                if m.error():
                    continue
                at = m.timestamp()[1]
                body = json.loads(m.value())
                topic = m.topic()[len(self.prefix) :]
                if topic == Topic.READS:
                    self.read_ms.setdefault(body["frame_id"], at - self._ms(body["captured_at"]))
                elif topic == Topic.OCCUPANCY and body.get("origin_captured_at"):
                    self.occupancy_ms.append(at - self._ms(body["origin_captured_at"]))
                elif topic == Topic.REVENUE_MATCHES and body.get("exit_at"):
                    self.match_ms.setdefault(body["session_id"], at - self._ms(body["exit_at"]))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.c.close()


def run_bench(
    bootstrap: str,
    data_dir: Path,
    rate: float = 8.0,
    vehicles: int = 40,
    frames_per_vehicle: int = 2,
    replicas: int = 1,
    progress=print,
) -> dict:
    import httpx

    from alpr.kafka.topics import apply_topics
    from alpr_app.demo.stack import Stack

    run = f"bench.{uuid.uuid4().hex[:8]}."
    work = Path(data_dir) / "bench" / run.strip(".")
    work.mkdir(parents=True, exist_ok=True)
    apply_topics(bootstrap, prefix=run)
    env = {
        "ALPR_KAFKA_BOOTSTRAP": bootstrap,
        "ALPR_TOPIC_PREFIX": run,
        "ALPR_DATA_DIR": str(work),
        "ALPR_CAMERAS_FILE": str(_cameras_file(work / "cameras.yaml")),
        "ALPR_REVENUE_TARIFF_FILE": str(_tariff_file(work / "tariff.yaml")),
        "ALPR_REVENUE_PAYMENT_LATE_MIN": "0",
    }
    progress(f"rendering {vehicles} vehicles...")
    cars = _frames(vehicles, seed=31)
    # Entries first, each car's exit a few vehicles later: a steady stream of both.
    schedule = []
    for i, (_plate, jpeg) in enumerate(cars):
        schedule += [("bench-entry", jpeg)] * frames_per_vehicle
        if i >= 3:
            schedule += [("bench-exit", cars[i - 3][1])] * frames_per_vehicle
    for _plate, jpeg in cars[-3:]:
        schedule += [("bench-exit", jpeg)] * frames_per_vehicle
    latencies = _Latencies(bootstrap, run)
    with Stack(env, work / "logs") as stack:
        for r in range(replicas):
            stack.start(f"recognizer-{r}", PORTS["recognizer"] + 10 * r, "recognizer", "serve", timeout=300)
        for name in ("occupancy", "revenue", "ingest"):
            stack.start(name, PORTS[name], name, "serve", timeout=300)
        progress(f"uploading {len(schedule)} frames at {rate}/s...")
        started = time.monotonic()
        with httpx.Client(timeout=30) as client:
            for n, (camera, jpeg) in enumerate(schedule):
                due = started + n / rate
                time.sleep(max(0.0, due - time.monotonic()))  # pacing the offered load
                at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                r = client.post(
                    f"http://127.0.0.1:{PORTS['ingest']}/v1/frames",
                    content=jpeg,
                    headers={
                        "X-Camera-Id": camera,
                        "Authorization": f"Bearer {TOKEN}",
                        "Content-Type": "image/jpeg",
                        "X-Captured-At": at,
                    },
                )
                r.raise_for_status()
        offered_s = time.monotonic() - started
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(latencies.read_ms) < len(schedule):
            time.sleep(0.2)  # waiting for the last reads to arrive
        time.sleep(2.0)  # the last occupancy events and matches
    latencies.close()
    reads, occ, matches = list(latencies.read_ms.values()), latencies.occupancy_ms, list(latencies.match_ms.values())

    def pct(values):
        return {
            "n": len(values),
            "p50_ms": round(percentile(values, 50), 1),
            "p99_ms": round(percentile(values, 99), 1),
        }

    return {
        "benchmark": "pipeline",
        "machine": machine(),
        "recognizer_replicas": replicas,
        "offered_frames_per_s": rate,
        "frames": len(schedule),
        "achieved_frames_per_s": round(len(schedule) / offered_s, 2),
        "frames_with_reads": len(reads),
        "capture_to_read": pct(reads),
        "capture_to_occupancy_event": pct(occ),
        "exit_to_revenue_match": pct(matches),
        "topic_prefix": run,
    }
