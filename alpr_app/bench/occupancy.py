"""`alpr bench occupancy`: what one instance sustains, on the real broker and chDB.

Two runs against one `alpr occupancy serve` subprocess (fresh `bench.<id>.` topics, a
temporary data directory, both removed afterwards):

1. latency, on the fresh instance: reads published at `rate` reads/s with captured_at = the
   moment of publishing; for every occupancy event, its arrival at a consumer minus its
   origin_captured_at gives the read -> occupancy event latency (p50, p99, max);
2. throughput: `reads` reads of synthetic lane traffic published at once; the clock runs from
   the first publish until the last occupancy event that a clean replay predicts has arrived:
   reads/s = reads / that time (publishing shares the 2 cores, so this is a lower bound).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from alpr.contracts.registry import Topic
from alpr.errors import AlprError
from alpr.kafka.config import client_config
from alpr.kafka.security import inherited_environment
from alpr.measure import machine, percentile
from alpr.net import free_port
from alpr.settings import REPO_ROOT
from alpr_app.demo.stack import ServiceProcess
from services.occupancy.settings import OccupancySettings

FACILITIES = [f"bench-{i}" for i in range(1, 9)]
TOPICS = {
    Topic.READS: 12,
    Topic.READS_DLQ: 1,
    Topic.OCCUPANCY: 3,
    Topic.PASSES: 12,
    Topic.HOLDS: 1,
    Topic.AUDIT: 1,
    Topic.REVOCATIONS: 1,
}  # the service reads revocations before it is ready


def _cameras() -> str:
    lines = ["facilities:"] + [f"  - {{facility_id: {f}, name: {f}, capacity: 100000}}" for f in FACILITIES]
    lines += ["cameras:"]
    for f in FACILITIES:
        lines += [
            f"  - {{camera_id: {f}-in, facility_id: {f}, lane: L1, direction: entry}}",
            f"  - {{camera_id: {f}-out, facility_id: {f}, lane: L2, direction: exit}}",
        ]
    return "\n".join(lines) + "\n"


class _Bench:
    def __init__(self, settings: OccupancySettings) -> None:
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient, NewTopic

        self.settings = settings
        self.bootstrap = settings.kafka_bootstrap
        self.prefix = f"bench.{uuid.uuid4().hex[:8]}."
        self.admin = AdminClient(client_config(self.bootstrap, **{"log_level": 4}))
        for future in self.admin.create_topics([NewTopic(self.prefix + t, p, 1) for t, p in TOPICS.items()]).values():
            future.result(timeout=30)
        from alpr.kafka.config import producer_config

        # The recognizer's producer settings: lz4, idempotent, acks=all.
        self.producer = Producer(producer_config(self.bootstrap, "occupancy-bench"))
        self.workdir = Path(tempfile.mkdtemp(prefix="alpr-occupancy-bench-"))
        (self.workdir / "cameras.yaml").write_text(_cameras())
        self.port = free_port()
        self.service: ServiceProcess | None = None

    def publish(self, reads) -> None:
        from alpr.contracts.registry import encode

        topic = Topic.READS.on(self.prefix)
        for r in reads:
            while True:
                try:
                    self.producer.produce(topic, key=r.facility_id, value=encode(r))
                    break
                except BufferError:
                    self.producer.poll(0.05)
            self.producer.poll(0)

    def start_service(self) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPR_")}
        env.update(inherited_environment())  # the service connects as the bench does (TLS, SCRAM)
        env.update(
            {
                "ALPR_ENVIRONMENT": "test",
                "ALPR_KAFKA_BOOTSTRAP": self.bootstrap,
                "ALPR_TOPIC_PREFIX": self.prefix,
                "ALPR_DATA_DIR": str(self.workdir),
                "ALPR_CAMERAS_FILE": str(self.workdir / "cameras.yaml"),
                "ALPR_OCCUPANCY_HTTP_PORT": str(self.port),
                "ALPR_LOG_LEVEL": "WARNING",
                "ALPR_AUTH_SECRET": self.settings.auth_secret.get_secret_value(),
                "ALPR_OCCUPANCY_BATCH_MAX": str(self.settings.batch_max),
                "ALPR_OCCUPANCY_BATCH_WITHIN_S": str(self.settings.batch_within_s),
            }
        )
        self.service = ServiceProcess.spawn(
            "occupancy", ["occupancy", "serve"], env, self.port, self.workdir / "service.log", REPO_ROOT
        )
        self.service.wait_healthy(90)
        return time.monotonic()

    def events_consumer(self):
        from confluent_kafka import Consumer

        c = Consumer(
            client_config(
                self.bootstrap,
                **{
                    "group.id": f"bench-{uuid.uuid4().hex}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                },
            )
        )
        c.subscribe([Topic.OCCUPANCY.on(self.prefix)])
        return c

    def close(self) -> None:
        if self.service is not None:
            try:
                self.service.terminate(30)
            except AlprError:
                pass  # killed after 30 s without stopping; the bench's figures are already taken
        topics = [self.prefix + t for t in TOPICS]
        topics += [
            self.prefix + self.settings.faust_app_id + s for s in ("-facility-state-changelog", "-__assignor-__leader")
        ]
        for future in self.admin.delete_topics(topics).values():
            try:
                future.result(timeout=30)
            except Exception:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


def _live_reads(rate: float, count: int):
    """Reads at `rate`/s, stamped with the moment they are published: 8 facilities x 2 lanes,
    a vehicle per lane at a time (4 frames), two entries for each exit."""
    from services.occupancy.traffic import read

    rng = random.Random(5)
    lanes = [lane for f in FACILITIES for lane in ((f, "L1", "entry"), (f, "L3", "entry"), (f, "L2", "exit"))]
    active: dict[int, tuple[str, int]] = {}
    start = time.monotonic()
    for n in range(count):
        target = start + n / rate
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        slot = n % len(lanes)
        facility, lane, direction = lanes[slot]
        plate, frames = active.get(slot, ("", 4))
        if frames >= 4:
            plate, frames = (
                f"{rng.randrange(1, 10)}{''.join(rng.choice('ACEFHJKMNPRTUVWXY') for _ in range(3))}{rng.randrange(100, 1000)}",
                0,
            )
        active[slot] = (plate, frames + 1)
        yield read(facility, lane, direction, datetime.now(UTC), plate)


def _latency_run(bench: _Bench, consumer, rate: float, count: int) -> list[float]:
    """Publish `count` reads at `rate`/s; the latency (ms) of every occupancy event they cause."""
    import threading

    latencies: list[float] = []

    def publish_live() -> None:
        bench.publish(_live_reads(rate, count))
        bench.producer.flush(30)

    publisher = threading.Thread(target=publish_live)
    publisher.start()
    quiet_since = None
    while True:
        # poll(), not consume(n): consume waits for n messages or its timeout, which would
        # add up to the timeout to every arrival time.
        m = consumer.poll(0.1)
        arrived = time.time()
        if m is not None and m.error() is None:
            quiet_since = None
            event = json.loads(m.value())
            if event.get("origin_captured_at"):
                origin = datetime.fromisoformat(event["origin_captured_at"].replace("Z", "+00:00")).timestamp()
                latencies.append((arrived - origin) * 1000)
        elif publisher.is_alive():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 2.0:
            return latencies


def run_bench(settings: OccupancySettings, reads: int = 20_000, rate: float = 200.0, latency_reads: int = 3000) -> dict:
    from services.occupancy.occupancy import Occupancy, replay
    from services.occupancy.passes import PassFolder
    from services.occupancy.traffic import Traffic

    bench = _Bench(settings)
    try:
        consumer = bench.events_consumer()
        bench.start_service()
        latencies = _latency_run(bench, consumer, rate, latency_reads)

        # 2. throughput: a backlog published at once, drained by the same instance.
        # Captured after the latency run's reads: older ones would be late for its lanes' horizon.
        traffic = Traffic(FACILITIES, seed=1).reads(max(1, reads // 4), start=datetime.now(UTC))
        _, clean = replay(
            Occupancy(
                PassFolder(gap_ms=int(settings.pass_gap_s * 1000), horizon_ms=int(settings.pass_horizon_s * 1000)),
                {f: 100000 for f in FACILITIES},
            ),
            traffic,
        )
        expected = {e.event_id for e in clean.events}
        started = time.monotonic()
        bench.publish(traffic)
        bench.producer.flush(60)
        seen: set[str] = set()
        deadline = time.monotonic() + 600
        while not expected <= seen and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=1000, timeout=0.2):
                if m.error() is None:
                    seen.add(json.loads(m.value())["event_id"])
        drained = time.monotonic()
        if not seen >= expected:
            raise AlprError(f"only {len(seen & expected)} of {len(expected)} occupancy events arrived")
        throughput = len(traffic) / (drained - started)
        consumer.close()
        if not latencies:
            raise AlprError("no occupancy events arrived during the latency run")
        return {
            "machine": machine(),  # what this run ran on, not a constant
            "throughput_reads": len(traffic),
            "throughput_reads_per_s": round(throughput, 1),
            "throughput_passes": len(clean.passes),
            "latency_rate_reads_per_s": rate,
            "latency_reads": latency_reads,
            "latency_events": len(latencies),
            "latency_p50_ms": round(percentile(latencies, 50), 1),
            "latency_p99_ms": round(percentile(latencies, 99), 1),
            "latency_max_ms": round(max(latencies), 1),
            "reads_partitions": TOPICS[Topic.READS],
            "batch_max": settings.batch_max,
            "batch_within_s": settings.batch_within_s,
        }
    finally:
        bench.close()
