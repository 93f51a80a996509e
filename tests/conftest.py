"""Shared fixtures: the real broker (started by `make test`), fresh topics, real stores.

No fakes: Kafka tests talk to the local KRaft broker, store tests to chDB (and, where a
Docker engine answers, to a ClickHouse server started by testcontainers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from alpr.kafka.config import client_config

REPO = Path(__file__).resolve().parents[1]
BOOTSTRAP = os.environ.get("ALPR_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


def _broker_answers(bootstrap: str) -> bool:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient(client_config(bootstrap, **{"log_level": 0})).list_topics(timeout=5)
        return True
    except KafkaException:
        return False


@pytest.fixture(scope="session")
def bootstrap() -> str:
    if not _broker_answers(BOOTSTRAP):
        pytest.fail(
            f"Kafka is not answering at {BOOTSTRAP}: run `make test` (it starts the broker) or `alpr kafka start`"
        )
    return BOOTSTRAP


def pytest_configure(config) -> None:
    """Fix the suite's Kafka security once, from the environment `make test` sets (the secure
    broker's administrator): a test that clears the ALPR_* variables must not leave a later
    client without credentials."""
    from alpr.kafka import security

    security.reset()
    security.current()


DEV_BOOTSTRAP = "127.0.0.1:9092"  # `alpr kafka start`'s default: the development broker


@pytest.fixture(scope="session")
def dev_bootstrap(bootstrap) -> str:
    """The development broker (plaintext, no authorizer) for the tests about it: `make test`
    runs it beside the suite's secure broker; on a plaintext suite broker, that one."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    if "ALPR_KAFKA_SECURITY_PROTOCOL" not in os.environ:
        return bootstrap
    try:
        AdminClient({"bootstrap.servers": DEV_BOOTSTRAP, "log_level": 0}).list_topics(timeout=5)
    except KafkaException:
        pytest.fail(
            f"the development broker is not answering at {DEV_BOOTSTRAP}: run `make test` or `alpr kafka start`"
        )
    return DEV_BOOTSTRAP


@pytest.fixture
def plaintext_kafka():
    """In-process clients of a test's own development broker are PLAINTEXT for the test,
    whatever the suite's broker (tests.support.kafka.plaintext_clients)."""
    from tests.support.kafka import plaintext_clients

    with plaintext_clients():
        yield


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def topic_factory(bootstrap, unique):
    """Create fresh topics for one test (deleted afterwards): factory(name, partitions) -> full name."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(client_config(bootstrap, **{"log_level": 4}))
    created: list[str] = []

    def make(name: str, partitions: int = 1) -> str:
        full = f"test.{unique}.{name}"
        admin.create_topics([NewTopic(full, partitions, 1)])[full].result(timeout=30)
        created.append(full)
        return full

    yield make
    if created:
        for future in admin.delete_topics(created).values():
            try:
                future.result(timeout=30)
            except Exception:
                pass


@pytest.fixture(autouse=True)
def _one_chdb_directory_per_test():
    """chDB serves one data directory per process: a store a test forgot to close would make
    every later test's store fail. Close whatever is left after each test."""
    yield
    from alpr.store.embedded import _Engine

    _Engine.reset()


def docker_engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def clickhouse_server_url():
    """A ClickHouse server in a container, where Docker runs; skipped elsewhere (chDB covers it)."""
    if not docker_engine_available():
        pytest.skip("no Docker engine: the same tests run on chDB")
    from testcontainers.clickhouse import ClickHouseContainer

    with ClickHouseContainer("clickhouse/clickhouse-server:25.8") as ch:
        yield f"http://{ch.username}:{ch.password}@{ch.get_container_host_ip()}:{ch.get_exposed_port(8123)}"


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the governance store, from the machine's own binaries."""
    from tests.support.postgres import PostgresServer

    try:
        server = PostgresServer()
    except RuntimeError as err:
        pytest.skip(f"no PostgreSQL server: {err}")
    yield server
    server.stop()


@pytest.fixture(params=["chdb", "server"])
def store_factory(request, tmp_path):
    """Open stores on the real engine: chDB in a fresh directory, or the container's server."""
    from alpr.store import open_store

    opened = []
    url = request.getfixturevalue("clickhouse_server_url") if request.param == "server" else None

    def make(service: str):
        database = f"{service}_{uuid.uuid4().hex[:8]}" if url else service
        store = open_store(service, clickhouse_url=url, data_dir=tmp_path, database=database)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `alpr ...` in a subprocess, as a user would, with a clean ALPR_* environment."""
    from tests.support.kafka import with_suite_security

    base = {k: v for k, v in os.environ.items() if not k.startswith("ALPR_")}
    base.update(with_suite_security(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "alpr_app.cli", *args],
        capture_output=True,
        text=True,
        env=base,
        cwd=REPO,
        timeout=timeout,
    )
