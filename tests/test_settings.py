"""Bad configuration fails at start with one line that names the problem."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import run_cli
from tests.support.kafka import PLAINTEXT_ENV


def one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_unknown_setting_is_refused(tmp_path):
    one_line_error(
        run_cli("db", "migrate", env={"ALPR_KAFKA_BOOTSTRAPS": "x:1", "ALPR_DATA_DIR": str(tmp_path)}),
        "unknown setting ALPR_KAFKA_BOOTSTRAPS",
    )


def test_invalid_value_is_named(tmp_path):
    one_line_error(
        run_cli("db", "migrate", env={"ALPR_KAFKA_BOOTSTRAP": "no-port", "ALPR_DATA_DIR": str(tmp_path)}),
        "ALPR_KAFKA_BOOTSTRAP",
        "host:port",
    )
    one_line_error(
        run_cli("db", "migrate", env={"ALPR_AUDIT_RETENTION_DAYS": "30", "ALPR_DATA_DIR": str(tmp_path)}),
        "ALPR_AUDIT_RETENTION_DAYS",
    )


def test_production_requires_a_real_secret(tmp_path):
    one_line_error(
        run_cli("db", "migrate", env={"ALPR_ENVIRONMENT": "production", "ALPR_DATA_DIR": str(tmp_path)}),
        "ALPR_AUTH_SECRET",
    )


def test_unreachable_clickhouse_url(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        line = one_line_error(
            run_cli(
                "db", "migrate", env={"ALPR_CLICKHOUSE_URL": f"http://127.0.0.1:{port}", "ALPR_DATA_DIR": str(tmp_path)}
            ),
            "cannot reach ClickHouse",
            str(port),
        )
    assert "Connection refused" in line


@pytest.mark.kafka
def test_taken_port_is_named(tmp_path, bootstrap):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        one_line_error(
            run_cli(
                "kafka",
                "start",
                env={"ALPR_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}", "ALPR_DATA_DIR": str(tmp_path), **PLAINTEXT_ENV},
            ),
            f"port 127.0.0.1:{port} is not available",
        )


def test_each_service_reads_its_own_variables_and_the_shared_ones(monkeypatch):
    from alpr.settings import load_settings
    from services.occupancy.settings import OccupancySettings
    from services.revenue.settings import RevenueSettings

    for key in [k for k in __import__("os").environ if k.startswith("ALPR_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ALPR_OCCUPANCY_BATCH_MAX", "7")
    monkeypatch.setenv("ALPR_REVENUE_BATCH_MAX", "9")
    monkeypatch.setenv("ALPR_KAFKA_BOOTSTRAP", "kafka-1:9092")
    monkeypatch.setenv("ALPR_CAMERAS_FILE", "/etc/alpr/cameras.yaml")
    occupancy, revenue = load_settings(OccupancySettings), load_settings(RevenueSettings)
    assert (occupancy.batch_max, revenue.batch_max) == (7, 9)  # one environment, no clash
    assert occupancy.kafka_bootstrap == revenue.kafka_bootstrap == "kafka-1:9092"
    assert str(occupancy.cameras_file) == str(revenue.cameras_file) == "/etc/alpr/cameras.yaml"
    # Code still passes fields by name.
    assert OccupancySettings(batch_max=3, kafka_bootstrap="k:1").batch_max == 3


def test_a_name_from_before_the_namespaces_is_refused_with_the_new_names():
    from alpr.errors import ConfigError
    from alpr.settings import check_unknown_env

    with pytest.raises(ConfigError) as err:
        check_unknown_env({"ALPR_BATCH_MAX": "5"})
    message = str(err.value)
    assert "unknown setting ALPR_BATCH_MAX" in message
    assert "ALPR_OCCUPANCY_BATCH_MAX or ALPR_REVENUE_BATCH_MAX" in message


def test_an_invalid_namespaced_value_is_named_by_its_variable(monkeypatch):
    from alpr.errors import ConfigError
    from alpr.settings import load_settings
    from services.occupancy.settings import OccupancySettings

    monkeypatch.setenv("ALPR_OCCUPANCY_BATCH_MAX", "many")
    with pytest.raises(ConfigError, match="ALPR_OCCUPANCY_BATCH_MAX: "):
        load_settings(OccupancySettings)
