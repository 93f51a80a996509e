"""The local broker's life cycle: start waits for health, stop leaves no process behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.kafka import PLAINTEXT_ENV
from tests.support.net import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]  # a second broker of its own


def test_second_broker_starts_healthy_and_stops_without_leftovers(tmp_path, bootstrap):
    env = {
        "ALPR_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "ALPR_KAFKA_CONTROLLER_PORT": str(free_port()),
        "ALPR_DATA_DIR": str(tmp_path),
        "ALPR_KAFKA_HEAP": "256m",
        **PLAINTEXT_ENV,  # a development broker of its own, whatever the suite's broker is
    }
    started = run_cli("kafka", "start", env=env)
    assert started.returncode == 0, started.stderr
    pid = int((tmp_path / "kafka" / "broker.pid").read_text())
    try:
        status = run_cli("kafka", "status", "--json", env=env)
        assert json.loads(status.stdout) | {"pid": None} == {
            "running": True,
            "healthy": True,
            "pid": None,
            "bootstrap": env["ALPR_KAFKA_BOOTSTRAP"],
        }
        # Starting again is a no-op on the running broker.
        again = run_cli("kafka", "start", env=env)
        assert again.returncode == 0 and f"pid {pid}" in again.stdout
    finally:
        stopped = run_cli("kafka", "stop", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    assert not (tmp_path / "kafka" / "broker.pid").exists()
    status = run_cli("kafka", "status", "--json", env=env)
    assert status.returncode == 1 and json.loads(status.stdout)["running"] is False
