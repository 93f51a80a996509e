"""`alpr bench revenue --json` runs end to end on the real broker (small, to stay quick)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def test_bench_reports_passes_and_payments_per_second(bootstrap):
    done = run_cli(
        "bench",
        "revenue",
        "--passes",
        "200",
        "--payments",
        "50",
        "--json",
        env={"ALPR_KAFKA_BOOTSTRAP": bootstrap},
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["vehicles"] == 100 and result["matches"] == 100 and result["clean_stop"] is True
    assert result["passes_per_s"] > 0 and result["payments_per_s"] > 0 and "core" in result["machine"]
