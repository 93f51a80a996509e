"""End to end: `alpr demo` on a fresh prefix runs every service on the synthetic garage day and
reports occupancy equal to the ground truth's, with every count non-zero, while a burst of
malformed messages on every consumed topic ends in the DLQs."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def test_demo_runs_the_whole_pipeline_and_matches_the_ground_truth(bootstrap, tmp_path):
    proc = run_cli("demo", "--duration", "300", "--json", "--poison", "3",
                   env={"ALPR_KAFKA_BOOTSTRAP": bootstrap, "ALPR_DATA_DIR": str(tmp_path)}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["complete"] is True
    assert set(summary["services"]) == {"audit", "recognizer", "occupancy", "revenue", "ingest"}
    for key in ("frames", "reads", "passes", "sessions", "violations", "payments"):
        assert summary[key] > 0, key
    assert summary["occupancy"] == summary["occupancy_expected"]
    assert sum(summary["matches_by_status"].values()) == summary["sessions"] and summary["matches_by_status"]
    assert summary["audit_events"].get("allowed", 0) > 0
    # Every poison message in its DLQ (alpr.holds.v1 has two consumers: occupancy and revenue).
    assert summary["dead_letters"] == {"alpr.audit.dlq": 3, "alpr.frames.dlq": 3, "alpr.holds.dlq": 6,
                                       "alpr.passes.dlq": 3, "alpr.payments.dlq": 3, "alpr.reads.dlq": 3}
    accuracy = summary["accuracy"]
    assert accuracy["vehicle_passes"] > 0 and accuracy["capture_rate"] > 0 and accuracy["perfect_read_rate"] > 0
