"""The audit sink and the auditors' API against the real broker and chDB."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient

from alpr.audit import AuditClient
from alpr.auth import Principal, issue_token
from alpr.contracts.registry import Topic
from alpr.errors import ContractError
from alpr.kafka.config import client_config
from alpr.purposes import StatedPurpose
from alpr.revocations import RevocationSet
from alpr.runtime import Workers
from services.audit.main import build_app, build_consumer, open_audit_store
from services.audit.metrics import EVENTS_STORED
from services.audit.processor import audit_row
from services.audit.settings import AuditSettings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]
EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "topics" / "examples" / Topic.AUDIT


def test_processor_maps_an_event_to_a_row_and_rejects_garbage():
    row = audit_row((EXAMPLES / "plate-search.json").read_bytes())
    assert row["user"] == "jdoe" and row["plates"] == ["8ABC123"] and row["outcome"] == "allowed"
    with pytest.raises(ContractError):
        audit_row(b'{"event_id": "x"}')


def consume_until(consumer, predicate, rounds=60):
    for _ in range(rounds):
        consumer.handle(consumer.poll_batch())
        if predicate():
            return True
    return False


def test_events_reach_the_log_and_auditors_query_them(bootstrap, topic_factory, unique, tmp_path):
    topic = topic_factory(Topic.AUDIT)
    topic_factory(Topic.AUDIT_DLQ)
    prefix = topic[: -len(Topic.AUDIT)]
    settings = AuditSettings(kafka_bootstrap=bootstrap, data_dir=tmp_path, auth_secret="s" * 32, environment="test")
    store = open_audit_store(settings)
    audit = AuditClient(bootstrap, "occupancy", topic=topic)
    consumer = build_consumer(settings, store, topic_prefix=prefix, group_id=f"audit-{unique}")
    stored = EVENTS_STORED.labels("occupancy", "allowed")
    before = stored._value.get()
    try:
        # Three accesses by two users, one with a hostile filter value, and one poison message.
        for user, plate, purpose in (
            ("jdoe", "8ABC123", StatedPurpose("enforcement", "CIT-1")),
            ("jdoe", "7XYZ987", StatedPurpose("revenue")),
            ("asmith", "8ABC123", StatedPurpose("appeal", "TC-9")),
        ):
            audit.record(
                audit.event(
                    Principal(user, "enforcement", "t", 0),
                    "plate.search",
                    "/v1/passes",
                    outcome="allowed",
                    filters={"plate": plate, "note": "x' OR 1=1 --"},
                    plates=[plate],
                    row_count=1,
                    purpose=purpose,
                )
            )
        p = Producer(client_config(bootstrap))
        p.produce(topic, b"not json")
        p.flush(10)

        def count():
            return store.query(f"SELECT count() AS n FROM {store.database}.audit_log")[0]["n"]

        assert consume_until(consumer, lambda: int(count()) >= 3)
        assert stored._value.get() - before == 3  # counted as stored, by service and outcome

        app = build_app(
            settings,
            store,
            Workers(),
            AuditClient(bootstrap, "audit", topic=topic),
            revocations=RevocationSet("audit", loaded=True),
        )
        client = TestClient(app)
        assert 'alpr_audit_events_stored_total{outcome="allowed",service="occupancy"}' in client.get("/metrics").text
        auditor = issue_token("s" * 32, "auditor1", "auditor")
        enforcement = issue_token("s" * 32, "jdoe", "enforcement")
        assert client.get("/v1/audit/events").status_code == 401
        assert client.get("/v1/audit/events", headers={"Authorization": f"Bearer {enforcement}"}).status_code == 403

        r = client.get("/v1/audit/events", params={"plate": "8ABC123"}, headers={"Authorization": f"Bearer {auditor}"})
        assert r.status_code == 200, r.text
        assert sorted(e["user"] for e in r.json()["events"]) == ["asmith", "jdoe"]
        # Auditors filter by the stated purpose (Civil Code 1798.90.52), and see its case number.
        r = client.get("/v1/audit/events", params={"purpose": "appeal"}, headers={"Authorization": f"Bearer {auditor}"})
        assert [(e["user"], e["plates"], e["case_ref"]) for e in r.json()["events"]] == [
            ("asmith", ["8ABC123"], "TC-9")
        ]
        r = client.get(
            "/v1/audit/events", params={"user": "jdoe' OR '1'='1"}, headers={"Authorization": f"Bearer {auditor}"}
        )
        assert r.status_code == 200 and r.json()["count"] == 0
        csv_text = client.get(
            "/v1/audit/events.csv", params={"user": "jdoe"}, headers={"Authorization": f"Bearer {auditor}"}
        ).text
        assert csv_text.splitlines()[0].startswith("event_id,at,service,user") and len(csv_text.splitlines()) == 3

        # The auditors' queries are audited too (4 allowed queries + 2 refusals), and the poison went to the DLQ.
        assert consume_until(consumer, lambda: int(count()) >= 3 + 6)
        queries = store.query(
            f"SELECT user, outcome FROM {store.database}.audit_log FINAL WHERE action = 'audit.query' ORDER BY user"
        )
        assert sorted((q["user"], q["outcome"]) for q in queries) == sorted(
            [
                ("anonymous", "denied"),
                ("jdoe", "denied"),
                ("auditor1", "allowed"),
                ("auditor1", "allowed"),
                ("auditor1", "allowed"),
                ("auditor1", "allowed"),
            ]
        )
    finally:
        consumer.close()
        store.close()

    from tests.support.kafka import drain

    dead = drain(bootstrap, Topic.AUDIT_DLQ.on(prefix), 1, f"dlq-{unique}")
    assert [m.value() for m in dead] == [b"not json"]
    assert Topic.AUDIT in dict(dead[0].headers())["dlq.reason"].decode()
