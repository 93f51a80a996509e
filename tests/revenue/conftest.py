"""Fixtures of the revenue tests: fresh topics, and `alpr revenue serve` as a real subprocess."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from alpr.auth import issue_token
from alpr.contracts.registry import Topic
from alpr.kafka.config import client_config
from alpr_app.demo.stack import ServiceProcess
from tests.support.kafka import principal_env, suite_security_env
from tests.support.net import free_port

SECRET = "r" * 40
TOPICS = {
    Topic.PASSES: 2,
    Topic.PAYMENTS: 2,
    Topic.REVENUE_MATCHES: 1,
    Topic.VIOLATIONS: 1,
    Topic.PASSES_DLQ: 1,
    Topic.PAYMENTS_DLQ: 1,
    Topic.AUDIT: 1,
    Topic.HOLDS: 1,
    Topic.REVOCATIONS: 1,
    Topic.REVIEW_DECISIONS: 1,
    Topic.REVIEW_DECISIONS_DLQ: 1,
}


class RevenueProcess:
    """`alpr revenue serve` in a subprocess, on fresh topics, with its own data directory, started
    from an empty working directory (`workdir`): whatever it writes must land in the data dir."""

    def __init__(self, bootstrap: str, prefix: str, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.workdir = data_dir.parent / f"{data_dir.name}-workdir"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ALPR_")}
        self.env.update(suite_security_env())
        self.env.update(
            {
                "ALPR_KAFKA_BOOTSTRAP": bootstrap,
                "ALPR_TOPIC_PREFIX": prefix,
                "ALPR_DATA_DIR": str(data_dir),
                "ALPR_AUTH_SECRET": SECRET,
                "ALPR_ENVIRONMENT": "test",
                "ALPR_REVENUE_HTTP_PORT": str(self.port),
                # TEST_SERVICE_LOG_LEVEL=DEBUG shows faust's own log in revenue.log when chasing a failure.
                "ALPR_REVENUE_ORPHAN_AFTER_H": "12",
                "ALPR_REVENUE_REKEY_PARTITIONS": "2",
                "ALPR_LOG_LEVEL": os.environ.get("TEST_SERVICE_LOG_LEVEL", "WARNING"),
                "ALPR_REVENUE_BATCH_WITHIN_S": "0.02",
                "ALPR_REVENUE_SESSION_TIMEOUT_S": "6",
                # The idle clock ticks in every revenue test (a SIGKILL, a restart, a scripted day in the past).
                "ALPR_REVENUE_IDLE_LAG_S": "2",
            }
        )
        self.env.update(env or {})
        self.log = data_dir / "revenue.log"
        self.process: ServiceProcess | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def proc(self):
        return self.process.proc if self.process is not None else None

    def start(self) -> None:
        self.process = ServiceProcess.spawn(
            "revenue", ["revenue", "serve"], self.env, self.port, self.log, self.workdir
        )
        self.process.wait_healthy(60)

    def get(self, path: str, role: str = "finance", **params) -> httpx.Response:
        token = issue_token(SECRET, f"test-{role}", role)
        return httpx.get(f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def post(self, path: str, body, role: str = "finance") -> httpx.Response:
        token = issue_token(SECRET, f"test-{role}", role)
        return httpx.post(f"{self.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def log_tail(self, chars: int = 4000) -> str:
        return self.process.log_tail(chars) if self.process is not None else "(not started)"

    def kill(self) -> None:
        self.process.kill()

    def terminate(self, timeout: float = 30) -> int:
        return self.process.terminate(timeout)


@pytest.fixture
def revenue_topics(topic_factory, bootstrap, unique):
    names = {name: topic_factory(name, n) for name, n in TOPICS.items()}
    prefix = f"test.{unique}."
    yield type("Topics", (), {"names": names, "prefix": prefix})
    # faust created its changelog and re-keyed topics under the same prefix: remove them too.
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(bootstrap, **{"log_level": 0}))
    extra = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix) and t not in names.values()]
    if extra:
        for f in admin.delete_topics(extra).values():
            try:
                f.result(timeout=30)
            except Exception:
                pass


@pytest.fixture
def revenue_service(bootstrap, revenue_topics, tmp_path):
    # As the revenue principal, with only its ACLs (on the suite's secure broker).
    login = principal_env("revenue", revenue_topics.prefix)
    service = RevenueProcess(bootstrap, revenue_topics.prefix, tmp_path / "revenue", env=login)
    yield service
    if service.process is not None:
        service.process.kill()


def produce(bootstrap: str, topic: str, messages: list[tuple[str, bytes]]) -> None:
    from confluent_kafka import Producer

    from alpr.kafka.config import producer_config

    errors: list[str] = []
    producer = Producer(producer_config(bootstrap, "revenue-tests"))
    for key, value in messages:
        producer.produce(
            topic, key=key.encode(), value=value, on_delivery=lambda err, msg: errors.append(str(err)) if err else None
        )
    assert producer.flush(30) == 0 and not errors, errors


def read_topic(bootstrap: str, topic: str) -> list[dict]:
    """Every message on the topic now, from the start to the high watermark (no group, no join wait)."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    partitions = AdminClient(client_config(bootstrap)).list_topics(topic, timeout=10).topics[topic].partitions
    consumer = Consumer(client_config(bootstrap, **{"group.id": "unused", "enable.auto.commit": False}))
    out: list[dict] = []
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        seen = {p: 0 for p in partitions}
        deadline = time.monotonic() + 30
        while any(seen[p] < ends[p] for p in partitions) and time.monotonic() < deadline:
            for m in consumer.consume(500, 0.5):
                if m.error() is None:
                    out.append(json.loads(m.value()))
                    seen[m.partition()] = m.offset() + 1
    finally:
        consumer.close()
    return out
