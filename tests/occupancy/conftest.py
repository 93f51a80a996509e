"""The occupancy service as users run it: `alpr occupancy serve` in a subprocess, on the real
broker (fresh topics and consumer groups per module) and its own chDB directory."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from alpr.auth import issue_token
from alpr.contracts.registry import Topic, encode
from alpr.kafka.config import client_config, producer_config
from alpr.kafka.security import KafkaSecurity
from alpr_app.demo.stack import ServiceProcess
from tests.support.kafka import principal_env, suite_security_env
from tests.support.net import free_port
from tests.support.waiting import deadline_loop

REPO = Path(__file__).resolve().parents[2]
SECRET = "occupancy-test-secret-0123456789abcdef"
TOPICS = {
    Topic.READS: 3,
    Topic.READS_DLQ: 1,
    Topic.OCCUPANCY: 1,
    Topic.PASSES: 3,
    Topic.HOLDS: 1,
    Topic.AUDIT: 1,
    Topic.REVOCATIONS: 1,
}
CAMERAS = """
facilities:
  - {facility_id: garage-a, name: Garage A, capacity: 2}
  - {facility_id: garage-b, name: Garage B, capacity: 10}
cameras:
  - {camera_id: cam-a-in, facility_id: garage-a, lane: L1, direction: entry}
  - {camera_id: cam-a-out, facility_id: garage-a, lane: L2, direction: exit}
  - {camera_id: cam-b-in, facility_id: garage-b, lane: L1, direction: entry}
  - {camera_id: cam-b-out, facility_id: garage-b, lane: L2, direction: exit}
"""


def token(role: str, user: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, user or role, role)}"}


@dataclass
class Kafka:
    """Fresh prefixed topics on the real broker, and small helpers around them. On the secure
    broker the helpers act as its administrator (`security`) and the service connects as its
    own principal (`service_env`: its ALPR_KAFKA_* login)."""

    bootstrap: str
    prefix: str
    security: KafkaSecurity | None = None
    service_env: dict[str, str] = field(default_factory=suite_security_env)
    producer: Producer = field(init=False)

    def client(self, **extra) -> dict:
        return client_config(self.bootstrap, self.security, **extra)

    def __post_init__(self) -> None:
        self.admin = AdminClient(self.client(log_level=4))
        futures = self.admin.create_topics([NewTopic(self.prefix + t, p, 1) for t, p in TOPICS.items()])
        for f in futures.values():
            f.result(timeout=30)
        # The platform's producer settings (lz4 compression, idempotence), as the recognizer sends reads.
        self.producer = Producer(producer_config(self.bootstrap, "occupancy-tests", security=self.security))

    def topic(self, name: str) -> str:
        return self.prefix + name

    def send_reads(self, reads, raw: list[tuple[str, bytes]] = ()) -> None:
        for r in reads:
            if isinstance(r, tuple):
                self.producer.produce(self.topic(Topic.READS), key=r[0], value=r[1])
            else:
                self.producer.produce(self.topic(Topic.READS), key=r.facility_id, value=encode(r))
        assert self.producer.flush(30) == 0

    def consume(self, name: str, n: int, timeout: float = 30.0) -> list:
        """The first `n` messages of a topic (from the beginning), waiting at most `timeout`."""
        c = Consumer(
            self.client(
                **{"group.id": f"read-{uuid.uuid4().hex}", "auto.offset.reset": "earliest", "enable.auto.commit": False}
            )
        )
        c.subscribe([self.topic(name)])
        out = []
        end = time.monotonic() + timeout
        try:
            while len(out) < n and time.monotonic() < end:
                out += [m for m in c.consume(num_messages=n - len(out), timeout=0.5) if m.error() is None]
        finally:
            c.close()
        return out

    def consume_all(self, name: str, timeout: float = 30.0) -> list:
        """Every message of a single- or multi-partition topic, up to its current end."""
        return self.consume(name, sum(self.end_offsets(name).values()), timeout)

    def end_offsets(self, name: str) -> dict[int, int]:
        c = Consumer(self.client(**{"group.id": "probe"}))
        meta = c.list_topics(self.topic(name), timeout=10).topics[self.topic(name)]
        ends = {p: c.get_watermark_offsets(TopicPartition(self.topic(name), p), timeout=10)[1] for p in meta.partitions}
        c.close()
        return ends

    def committed(self, group: str, name: str) -> dict[int, int]:
        c = Consumer(self.client(**{"group.id": group}))
        parts = [TopicPartition(self.topic(name), p) for p in self.end_offsets(name)]
        got = {tp.partition: tp.offset for tp in c.committed(parts, timeout=10)}
        c.close()
        return got

    def wait_consumed(self, group: str, timeout: float = 30.0) -> None:
        """Wait until `group` has committed every read: all of it is applied and its state durable."""
        ends = self.end_offsets(Topic.READS)
        for _ in deadline_loop(timeout, f"group {group} to commit {ends}"):
            committed = self.committed(group, Topic.READS)
            if all(committed.get(p, -1) >= e for p, e in ends.items() if e > 0):
                return

    def close(self) -> None:
        self.producer.flush(10)
        for f in self.admin.delete_topics([self.prefix + t for t in TOPICS]).values():
            try:
                f.result(timeout=30)
            except Exception:
                pass


@dataclass
class Service:
    """`alpr occupancy serve` in a subprocess."""

    kafka: Kafka
    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    cameras: str = CAMERAS
    process: ServiceProcess | None = None
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def group(self) -> str:
        return self.kafka.prefix + "alpr-occupancy"

    def env(self) -> dict[str, str]:
        cameras = self.data_dir / "cameras.yaml"
        cameras.parent.mkdir(parents=True, exist_ok=True)
        cameras.write_text(self.cameras)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPR_")}
        env.update(
            {
                "ALPR_ENVIRONMENT": "test",
                "ALPR_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
                "ALPR_TOPIC_PREFIX": self.kafka.prefix,
                "ALPR_DATA_DIR": str(self.data_dir),
                "ALPR_CAMERAS_FILE": str(cameras),
                "ALPR_OCCUPANCY_HTTP_PORT": str(self.port),
                "ALPR_AUTH_SECRET": SECRET,
                "ALPR_LOG_LEVEL": "WARNING",
                "ALPR_OCCUPANCY_OVERFLOW_TOLERANCE": "0.5",
                "ALPR_OCCUPANCY_PASS_GAP_S": "3",
                "ALPR_OCCUPANCY_NO_PLATE_MIN_READS": "2",
            }
        )
        env.update(self.kafka.service_env)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 45.0) -> Service:
        self.runs += 1
        self.log_path = self.data_dir / f"service-{self.runs}.log"
        self.process = ServiceProcess.spawn(
            "occupancy", ["occupancy", "serve"], self.env(), self.port, self.log_path, REPO
        )
        self.proc = self.process.proc
        self.process.wait_healthy(timeout)
        return self

    def log_tail(self) -> str:
        return self.process.log_tail(3000) if self.process is not None else ""

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the clean stop."""
        return self.process.terminate(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        self.process.kill()

    def get(self, path: str, role: str = "parking_management", **kwargs) -> httpx.Response:
        return httpx.get(self.url + path, headers=token(role), timeout=10, **kwargs)

    def ensure_stopped(self) -> None:
        if self.process is not None:
            self.process.kill()


@pytest.fixture(scope="module")
def kafka(request):
    from tests.conftest import BOOTSTRAP, _broker_answers

    if not _broker_answers(BOOTSTRAP):
        pytest.fail(f"Kafka is not answering at {BOOTSTRAP}: run `make test` or `alpr kafka start`")
    prefix = f"test.{uuid.uuid4().hex[:10]}."
    # The service runs as the occupancy principal, with only its ACLs (on the suite's secure broker).
    k = Kafka(BOOTSTRAP, prefix, service_env=principal_env("occupancy", prefix) or suite_security_env())
    yield k
    k.close()


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory):
    """Fresh topics on a secure broker of the module's own (SASL_SSL, SCRAM, the registry's
    ACLs for the prefix): a test module that names it as its `kafka` runs the service as the
    `occupancy` principal, with only that principal's rights."""
    from alpr.kafka.acls import apply_acls
    from alpr.kafka.broker import BrokerSettings, SecureBroker
    from tests.support.net import broker_ports

    data = tmp_path_factory.mktemp("secure-broker")
    broker = SecureBroker(BrokerSettings(kafka_secure_port=broker_ports(), kafka_heap="384m", data_dir=data))
    broker.start()
    admin = broker.security("admin")
    k = Kafka(
        broker.bootstrap, f"test.{uuid.uuid4().hex[:10]}.", security=admin, service_env=broker.client_env("occupancy")
    )
    apply_acls(broker.bootstrap, prefix=k.prefix, security=admin)
    yield k
    k.close()
    broker.stop()


@pytest.fixture(scope="module")
def service_factory(kafka, tmp_path_factory):
    made: list[Service] = []

    def make(cameras: str = CAMERAS, **env) -> Service:
        s = Service(kafka, tmp_path_factory.mktemp("occupancy"), extra_env=env, cameras=cameras)
        made.append(s)
        return s

    yield make
    for s in made:
        s.ensure_stopped()


def open_service_store(data_dir: Path):
    from alpr.store import open_store

    return open_store("occupancy", clickhouse_url=None, data_dir=data_dir)
