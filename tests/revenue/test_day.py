"""A scripted day through `alpr revenue serve` on the real broker and chDB, killed with SIGKILL
mid-stream and restarted: exactly the expected matches, violations and reconciliation."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from alpr.contracts.registry import Topic
from alpr.kafka.config import client_config
from tests.revenue.conftest import produce, read_topic
from tests.support import revenue_scenario as scenario
from tests.support.streams import assert_no_offset_jumps, uncommitted
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]  # SIGKILL runs


def dlq_reasons(bootstrap: str, topic: str) -> list[str]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(client_config(bootstrap, **{"group.id": "unused", "enable.auto.commit": False}))
    try:
        end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        consumer.assign([TopicPartition(topic, 0, 0)])
        out: list[str] = []
        while len(out) < end:
            for m in consumer.consume(100, 1.0):
                out.append(dict(m.headers())["dlq.reason"].decode())
        # At-least-once: a message dead-lettered just before the SIGKILL may be dead-lettered again.
        return list(dict.fromkeys(out))
    finally:
        consumer.close()


def reconciliation(service) -> dict:
    r = service.get("/v1/revenue/reconciliation", day=scenario.DAY, facility_id=scenario.FACILITY)
    assert r.status_code == 200, r.text
    facilities = r.json()["facilities"]
    return facilities[0] if facilities else {}


def test_scripted_day_survives_sigkill_and_reconciles(revenue_service, revenue_topics, bootstrap, unique):
    topics = revenue_topics.names
    service = revenue_service
    service.start()
    bad_payment = {**scenario.PAYMENTS[0], "payment_id": "pay-elsewhere", "facility_id": "garage-99"}
    produce(
        bootstrap,
        topics[Topic.PAYMENTS],
        scenario.encoded_payments() + [("8ABC123", json.dumps(bad_payment).encode()), ("8ABC123", b"{not json")],
    )
    # Payments first, so the day replays as it happened (paid before the exit).
    wait_for(lambda: reconciliation(service).get("collected_cents") == 2700, 60, "payments stored")

    passes = scenario.passes()
    half = len(passes) // 2
    produce(bootstrap, topics[Topic.PASSES], scenario.encoded(passes[:half]))
    wait_for(lambda: reconciliation(service).get("vehicles", 0) >= 6, 60, "first half of the passes")
    service.kill()  # SIGKILL mid-stream: no shutdown, no final commit

    service.start()
    produce(bootstrap, topics[Topic.PASSES], scenario.encoded(passes[half:]) + [("garage-1", b'{"pass_id": 1}')])
    seen: list[dict] = [{}]

    def decided():
        # A closed session's row is stored before its match (the matcher runs after the pairing):
        # the day is decided once every stay has its match, read before the reconciliation.
        r = service.get("/v1/revenue/matches", day=scenario.DAY, facility_id=scenario.FACILITY)
        assert r.status_code == 200, r.text
        stays = {m["session_id"] for m in r.json()["matches"] if m["status"] != "payment_without_session"}
        seen[0] = rec = reconciliation(service)
        unpaid = sum(d["count"] for d in rec.get("discrepancies", []) if d["category"] == "unpaid")
        return rec if rec.get("sessions") == 9 == len(stays) and unpaid == 3 else None

    day = wait_for(decided, 90, "every session decided", describe=lambda: f"{seen[0]}; log: {service.log_tail()}")
    # The restarted worker's agents never jumped over an offset, and every input partition's
    # commits reach its end (a hole in faust's acked offsets would stop them).
    assert_no_offset_jumps(service.get("/metrics").text, "revenue", service.log)
    app_id = f"{revenue_topics.prefix}alpr-revenue"
    inputs = [
        topics[Topic.PASSES],
        topics[Topic.PAYMENTS],
        f"{app_id}-sessions-by-plate",
        f"{app_id}-payments-by-plate",
    ]
    wait_for(
        lambda: not uncommitted(bootstrap, app_id, inputs),
        60,
        "every input committed to its end",
        describe=lambda: f"{uncommitted(bootstrap, app_id, inputs)}; log: {service.log_tail()}",
    )

    # faust's local files are under the data directory, none in the working directory
    assert sorted(service.workdir.iterdir()) == []
    assert (service.data_dir / "faust" / f"{revenue_topics.prefix}alpr-revenue").is_dir()
    assert (day["vehicles"], day["sessions"], day["permit_sessions"]) == (11, 9, 1)
    assert (day["expected_cents"], day["matched_paid_cents"], day["collected_cents"]) == (6000, 2700, 2700)
    found = {d["category"]: (d["count"], d["cents"]) for d in day["discrepancies"]}
    assert found == {
        "underpaid": (1, 600),
        "unpaid": (3, 2700),
        "overpaid": (0, 0),
        "payment_without_session": (0, 0),
        "orphan_entry": (1, 0),
        "exit_without_entry": (0, 0),
        "no_plate": (1, 0),
    }

    r = service.get("/v1/revenue/matches", day=scenario.DAY)
    matches = {
        m["session_id"]: (m["status"], m["amount_due_cents"], m["amount_paid_cents"]) for m in r.json()["matches"]
    }
    assert matches == scenario.EXPECTED_MATCHES
    misread = next(m for m in r.json()["matches"] if m["plate"] == "8DEF234")
    assert misread["match_confidence"] == pytest.approx(0.9) and "folding confusable" in misread["reason"]
    assert all(m["tariff_version"].startswith("demo-2026-11@") for m in r.json()["matches"])

    # On Kafka: redelivery after the kill may repeat a message, never change it (same ids).
    events = read_topic(bootstrap, topics[Topic.VIOLATIONS])
    assert {(v["session_id"], v["kind"], v["amount_due_cents"]) for v in events} == scenario.EXPECTED_VIOLATIONS
    published = read_topic(bootstrap, topics[Topic.REVENUE_MATCHES])
    latest = {m["session_id"]: (m["status"], m["amount_due_cents"], m["amount_paid_cents"]) for m in published}
    assert latest == scenario.EXPECTED_MATCHES
    assert len({m["match_id"] for m in published}) == 9  # one decision per session, however often delivered

    # Bad messages went to the DLQs with their reason (redelivery may repeat one); nothing else did.
    reasons = dlq_reasons(bootstrap, topics[Topic.PAYMENTS_DLQ]) + dlq_reasons(bootstrap, topics[Topic.PASSES_DLQ])
    assert len(reasons) == 3, reasons
    assert "unknown facility 'garage-99'" in reasons[0] and "Invalid JSON" in reasons[1]
    assert Topic.PASSES in reasons[2]

    # Evidence for the appeal of the overstay: crops and context frames of entry, patrol and exit;
    # hashes; audited with the package's SHA-256; each download in the next one's chain of custody.
    session_id = scenario.sid("7XYZ001", "10:10")
    assert service.get("/v1/evidence", role="finance", session_id=session_id).status_code == 403
    assert service.get("/v1/evidence", role="enforcement", session_id=session_id).status_code == 400  # no purpose
    appeal = {"purpose": "appeal", "case": "TC-2026-117"}
    first = service.get("/v1/evidence", role="enforcement", session_id=session_id, **appeal)
    assert first.status_code == 200
    assert json.loads(zipfile.ZipFile(io.BytesIO(first.content)).read("custody.json")) == []
    r = service.get("/v1/evidence", role="enforcement", session_id=session_id, **appeal)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["x-evidence-sha256"] == hashlib.sha256(r.content).hexdigest()
    z = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(z.namelist())
    assert {"case.json", "SHA256SUMS", "crops/1-entry.jpg", "crops/2-patrol.jpg", "crops/3-exit.jpg"} <= names
    assert {"frames/1-entry.jpg", "frames/2-patrol.jpg", "frames/3-exit.jpg", "custody.json"} <= names
    custody = json.loads(z.read("custody.json"))
    assert [(c["downloaded_by"], c["sha256"]) for c in custody] == [
        ("test-enforcement", hashlib.sha256(first.content).hexdigest())
    ]
    for line in z.read("SHA256SUMS").decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(z.read(name)).hexdigest() == digest
    case = json.loads(z.read("case.json"))
    assert case["match"]["status"] == "underpaid" and case["violations"][0]["kind"] == "overstay"
    assert case["match"]["lookup"]["candidates"][0]["payment_id"] == "pay-under"
    assert case["tariff"]["facility_rates"]["hourly_rate_cents"] == 300
    assert {p["model_reader"] for p in case["passes"]} == {"crnn-plate@1"}
    audit = read_topic(bootstrap, topics[Topic.AUDIT])
    exports = [e for e in audit if e["action"] == "evidence.export"]
    assert [(e["user"], e["outcome"], e["purpose"], e["case_ref"]) for e in exports] == [
        ("test-finance", "denied", "", ""),
        ("test-enforcement", "denied", "", ""),  # no purpose stated
        ("test-enforcement", "allowed", "appeal", "TC-2026-117"),
        ("test-enforcement", "allowed", "appeal", "TC-2026-117"),
    ]
    assert [e["filters"].get("sha256") for e in exports[2:]] == [
        hashlib.sha256(first.content).hexdigest(),
        hashlib.sha256(r.content).hexdigest(),
    ]

    # A clean stop on SIGTERM, then exactly one final match per session in ClickHouse.
    assert service.terminate(30) == 0
    from alpr.store import open_store

    store = open_store("revenue", clickhouse_url=None, data_dir=service.env["ALPR_DATA_DIR"])
    try:
        rows = store.query("SELECT session_id, count() AS n FROM revenue.matches FINAL GROUP BY session_id")
        assert {r["session_id"] for r in rows} == set(scenario.EXPECTED_MATCHES) and {r["n"] for r in rows} == {1}
        assert store.query("SELECT count() AS n FROM revenue.violations FINAL") == [{"n": 3}]
    finally:
        store.close()
