"""`alpr bench revenue`: passes/s and payments/s matched by one revenue instance, real broker.

Runs `alpr revenue serve` as a subprocess on fresh topics (`bench.<id>.` prefix, the
registry's partition counts) with its own chDB directory and ten facilities, then:

1. publishes the payments and times until the matcher has taken every one (re-keyed,
   stored in ClickHouse, joined into its ledger): payments/s;
2. publishes the passes (entry and exit of each vehicle, in capture order, ten facilities)
   and times until every session's final match is on alpr.revenue-matches.v1: passes/s.

Both figures include the whole path (Kafka in and out, faust tables and their changelogs,
ClickHouse inserts). Topics are deleted afterwards.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alpr.contracts.models import ModelVersions, Pass, utc_iso
from alpr.contracts.registry import Topic
from alpr.errors import AlprError
from alpr.kafka.config import client_config
from alpr.kafka.security import inherited_environment
from alpr.measure import machine
from alpr.net import free_port
from alpr.output import emit
from alpr.plates import confusable_key
from alpr.settings import REPO_ROOT
from alpr_app.demo.stack import ServiceProcess

FACILITIES = [f"bench-{n}" for n in range(10)]
TOPICS = {
    Topic.PASSES: 12,
    Topic.PAYMENTS: 6,
    Topic.REVENUE_MATCHES: 6,
    Topic.VIOLATIONS: 3,
    Topic.PASSES_DLQ: 1,
    Topic.PAYMENTS_DLQ: 1,
    Topic.AUDIT: 1,
    Topic.HOLDS: 1,
    Topic.REVOCATIONS: 1,
    Topic.REVIEW_DECISIONS: 3,
    Topic.REVIEW_DECISIONS_DLQ: 1,
}  # the service reads revocations before it is ready


def workload(vehicles: int, payments: int, seed: int = 7) -> tuple[list[Pass], list[dict]]:
    """Vehicles arriving every few seconds over the day, staying 20 min to 6 h; some pay."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 24, 14, tzinfo=UTC)
    passes, pays = [], []
    models = ModelVersions(detector="bench", reader="bench")
    used: set[tuple[str, str, int]] = set()
    for i in range(vehicles):
        facility = FACILITIES[i % len(FACILITIES)]
        plate = f"{i % 10}BN{i:06d}"[-7:]
        entry = start + timedelta(seconds=3 * i)
        exit_ = entry + timedelta(minutes=rng.randint(20, 360))
        for direction, lane, at in (("entry", "L1", entry), ("exit", "L2", exit_)):
            ms = int(at.timestamp() * 1000)
            while (facility, lane, ms) in used:  # pass ids are '<facility>/<lane>/<ms>': keep them distinct
                ms += 1
            used.add((facility, lane, ms))
            at = datetime.fromtimestamp(ms / 1000, UTC)
            passes.append(
                Pass(
                    pass_id=f"{facility}/{lane}/{ms}",
                    facility_id=facility,
                    camera_id=f"{facility}-{lane}",
                    lane=lane,
                    direction=direction,
                    plate=plate,
                    plate_key=confusable_key(plate),
                    confidence=0.95,
                    first_seen=at,
                    last_seen=at,
                    read_count=3,
                    best_read_id=None,
                    read_ids=[],
                    version=1,
                    models=models,
                )
            )
        if len(pays) < payments:
            pays.append(
                {
                    "payment_id": f"bench-{i}",
                    "kind": "pay_by_plate",
                    "facility_id": facility,
                    "plate": plate,
                    "amount_cents": 600,
                    "paid_at": utc_iso(entry + timedelta(minutes=5)),
                    "valid_from": utc_iso(entry),
                    "valid_until": utc_iso(entry + timedelta(hours=2)),
                    "source": "bench",
                }
            )
    # A last pass a day later moves stream time past every payment window: all sessions final.
    late = start + timedelta(days=2)
    passes.sort(key=lambda p: p.first_seen)
    passes.append(
        Pass(
            pass_id=f"{FACILITIES[0]}/L1/{int(late.timestamp() * 1000)}",
            facility_id=FACILITIES[0],
            camera_id="x",
            lane="L1",
            direction="entry",
            plate="LATE1",
            plate_key=confusable_key("LATE1"),
            confidence=0.9,
            first_seen=late,
            last_seen=late,
            read_count=1,
            best_read_id=None,
            read_ids=[],
            version=1,
        )
    )
    return passes, pays


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    from confluent_kafka import Producer

    from alpr.kafka.config import producer_config

    errors: list[str] = []
    producer = Producer(producer_config(bootstrap, "revenue-bench"))
    for key, value in messages:
        while True:
            try:
                producer.produce(
                    topic, key=key, value=value, on_delivery=lambda e, m: errors.append(str(e)) if e else None
                )
                break
            except BufferError:
                producer.poll(0.1)
    if producer.flush(60) or errors:
        raise AlprError(f"bench: could not publish to {topic}: {errors[:1]}")


def _counter(url: str, topic_suffix: str) -> float:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=5).text):
        if family.name == "alpr_messages":
            for s in family.samples:
                if (
                    s.name.endswith("_total")
                    and s.labels.get("topic", "").endswith(topic_suffix)
                    and s.labels.get("outcome") == "ok"
                ):
                    total += s.value
    return total


def _agent_died(url: str) -> bool:
    """revenue's /healthz says an agent of its stream died (`checks.stream` false for good)."""
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=2).json()["checks"].get("stream") is False
    except (httpx.HTTPError, ValueError, KeyError):
        return False  # not answering now: the next poll, or the process check, will tell


def _topic_count(admin_consumer, topic: str, partitions: int) -> int:
    from confluent_kafka import TopicPartition

    return sum(admin_consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions))


def run_bench(args) -> int:
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient, NewTopic

    from alpr.settings import CommonSettings, load_settings

    bootstrap = load_settings(CommonSettings).kafka_bootstrap
    vehicles = max(1, args.passes // 2)
    passes, payments = workload(vehicles, min(args.payments, vehicles))
    prefix = f"bench.{uuid.uuid4().hex[:8]}."
    admin = AdminClient(client_config(bootstrap, **{"log_level": 0}))
    names = {name: f"{prefix}{name}" for name in TOPICS}
    for f in admin.create_topics([NewTopic(names[n], p, 1) for n, p in TOPICS.items()]).values():
        f.result(timeout=30)
    workdir = Path(tempfile.mkdtemp(prefix="revenue-bench-"))
    (workdir / "cameras.yaml").write_text(
        json.dumps(
            {
                "facilities": [{"facility_id": f, "capacity": 500} for f in FACILITIES],
                "cameras": [
                    {"camera_id": f"{f}-L1", "facility_id": f, "lane": "L1", "direction": "entry", "source": "none.mp4"}
                    for f in FACILITIES
                ],
            }
        )
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPR_")}
    env.update(inherited_environment())  # the service connects as the bench does (TLS, SCRAM)
    env.update(
        {
            "ALPR_KAFKA_BOOTSTRAP": bootstrap,
            "ALPR_TOPIC_PREFIX": prefix,
            "ALPR_DATA_DIR": str(workdir),
            "ALPR_REVENUE_HTTP_PORT": str(port),
            "ALPR_CAMERAS_FILE": str(workdir / "cameras.yaml"),
            "ALPR_ENVIRONMENT": "test",
            "ALPR_LOG_LEVEL": "WARNING",
            "ALPR_AUTH_SECRET": "bench-secret-" + "x" * 20,
        }
    )
    url = f"http://127.0.0.1:{port}"
    service = ServiceProcess.spawn("revenue", ["revenue", "serve"], env, port, workdir / "revenue.log", REPO_ROOT)
    proc = service.proc
    counter = Consumer(client_config(bootstrap, **{"group.id": "unused"}))
    finished = False
    try:

        def wait(condition, what: str, timeout: float = 600) -> float:
            deadline = time.monotonic() + timeout
            checked = 0.0
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise AlprError(f"bench: the service exited ({proc.returncode}): {service.log_tail(500)}")
                if condition():
                    return time.monotonic()
                if time.monotonic() - checked > 1.0:  # a dead agent never recovers: say so now
                    checked = time.monotonic()
                    if _agent_died(url):
                        raise AlprError(f"bench: a revenue agent died waiting for {what}: {service.log_tail(1500)}")
                time.sleep(0.05)
            raise AlprError(f"bench: timed out waiting for {what}")

        service.wait_healthy(120)
        # Warm-up: one payment through the whole path, so the figures exclude the group join.
        warm = {**payments[0], "payment_id": "bench-warmup"}
        _produce(bootstrap, names[Topic.PAYMENTS], [(warm["plate"].encode(), json.dumps(warm).encode())])
        wait(lambda: _counter(url, "payments-by-plate") >= 1, "the warm-up payment", 120)
        t0 = time.monotonic()
        _produce(bootstrap, names[Topic.PAYMENTS], [(p["plate"].encode(), json.dumps(p).encode()) for p in payments])
        t1 = wait(lambda: _counter(url, "payments-by-plate") >= len(payments) + 1, "the payments")
        t2 = time.monotonic()
        _produce(
            bootstrap, names[Topic.PASSES], [(p.facility_id.encode(), p.model_dump_json().encode()) for p in passes]
        )
        t3 = wait(lambda: _topic_count(counter, names[Topic.REVENUE_MATCHES], 6) >= vehicles, "the matches")
        stopped = service.terminate(60) == 0
        finished = True
    finally:
        counter.close()
        service.kill()
        extra = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        for f in admin.delete_topics(extra).values():
            try:
                f.result(timeout=30)
            except Exception:
                pass
        if finished:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"bench: service log kept in {workdir / 'revenue.log'}", file=sys.stderr)
    result = {
        "machine": machine(),
        "broker": bootstrap,
        "vehicles": vehicles,
        "facilities": len(FACILITIES),
        "passes": len(passes),
        "payments": len(payments),
        "payments_seconds": round(t1 - t0, 3),
        "payments_per_s": round(len(payments) / (t1 - t0), 1),
        "passes_seconds": round(t3 - t2, 3),
        "passes_per_s": round(len(passes) / (t3 - t2), 1),
        "matches": vehicles,
        "clean_stop": stopped,
    }
    if args.json:
        emit(result)
    else:
        for k, v in result.items():
            print(f"{k:18} {v}")
    return 0
