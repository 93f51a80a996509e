"""Checks shared by the tests that SIGKILL or restart a faust worker: its input never jumped
over an offset (`alpr.kafka.faust_fixes.Continuity`), by its metrics and by its log."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from alpr.kafka.config import client_config

SKIPPED = "stream skipped offsets"  # Continuity's log message


def offset_jumps(metrics_text: str, service: str) -> dict[str, float]:
    """`alpr_stream_offset_jumps_total` of `service` by topic, from a /metrics page."""
    families = {f.name: f for f in text_string_to_metric_families(metrics_text)}
    assert "alpr_stream_offset_jumps" in families, "the service does not expose alpr_stream_offset_jumps_total"
    return {
        s.labels["topic"]: s.value
        for s in families["alpr_stream_offset_jumps"].samples
        if s.name == "alpr_stream_offset_jumps_total" and s.labels.get("service") == service
    }


def assert_no_offset_jumps(metrics_text: str, service: str, *logs: Path) -> None:
    """Every topic the worker's agents watched has a jump count of 0 (and there is at least one:
    the watch ran), and no log says a stream skipped offsets."""
    jumps = offset_jumps(metrics_text, service)
    assert jumps, f"{service}: no alpr_stream_offset_jumps_total series: its agents watched nothing"
    assert all(v == 0 for v in jumps.values()), f"{service}: offset jumps {jumps}"
    for log in logs:
        lines = [line for line in log.read_text(errors="replace").splitlines() if SKIPPED in line]
        assert not lines, f"{log}: {lines[:3]}"


def uncommitted(bootstrap: str, group: str, topics: list[str]) -> dict[str, tuple[int, int]]:
    """Each partition of `topics` where `group`'s committed offset is short of the end offset,
    as `topic[partition]` -> (committed, end): empty once the group committed everything (a
    partition whose commits stopped, as after faust's acked-offset hole, stays in it)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer(client_config(bootstrap, **{"group.id": group, "enable.auto.commit": False}))
    try:
        behind: dict[str, tuple[int, int]] = {}
        for topic in topics:
            partitions = c.list_topics(topic, timeout=10).topics[topic].partitions
            tps = [TopicPartition(topic, p) for p in partitions]
            for tp in c.committed(tps, timeout=10):
                end = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)[1]
                if end > 0 and tp.offset < end:
                    behind[f"{topic}[{tp.partition}]"] = (tp.offset, end)
        return behind
    finally:
        c.close()
