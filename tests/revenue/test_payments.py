"""Payments in: the CSV import command and the HTTP endpoint validate every record, refuse the bad
ones with a clear reason each, and publish the rest (acknowledged by the real broker)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from alpr.auth import issue_token
from alpr.contracts.registry import Topic
from alpr.revocations import RevocationSet
from alpr.runtime import Workers
from services.revenue.main import Services, build_app, payment_check
from services.revenue.payments import PaymentPublisher
from services.revenue.settings import RevenueSettings
from services.revenue.tariff import load_tariff
from tests.conftest import run_cli
from tests.revenue.conftest import SECRET, read_topic
from tests.support.tariffs import DEMO

pytestmark = [pytest.mark.kafka]

CSV = """payment_id,kind,facility_id,plate,amount_cents,paid_at,valid_from,valid_until,permit_type,source
ok-1,pay_by_plate,garage-1,8abc-123,900,2026-11-24T18:05:00Z,2026-11-24T18:05:00Z,2026-11-24T20:35:00Z,,station-4
ok-2,permit,*,4PRM444,0,2026-11-01T08:00:00Z,2026-11-01T08:00:00Z,2026-12-01T08:00:00Z,monthly,
bad-facility,pay_station,garage-99,7XYZ001,600,2026-11-24T18:15:00Z,,,,
bad-negative,pay_station,garage-1,7XYZ001,-600,2026-11-24T18:15:00Z,,,,
bad-plate,pay_station,garage-1,!!!,600,2026-11-24T18:15:00Z,,,,
bad-future,pay_by_plate,garage-1,7XYZ001,600,2099-01-01T00:00:00Z,,,,
bad-type,pay_by_plate,garage-1,7XYZ001,six dollars,2026-11-24T18:15:00Z,,,,
bad-time,pay_by_plate,garage-1,7XYZ001,600,yesterday,,,,
bad-kind,cash,garage-1,7XYZ001,600,2026-11-24T18:15:00Z,,,,
"""


def test_csv_import_publishes_good_rows_and_names_each_bad_one(topic_factory, bootstrap, unique, tmp_path):
    topic = topic_factory(Topic.PAYMENTS)
    path = tmp_path / "payments.csv"
    path.write_text(CSV)
    done = run_cli(
        "revenue",
        "import-payments",
        str(path),
        env={"ALPR_KAFKA_BOOTSTRAP": bootstrap, "ALPR_TOPIC_PREFIX": f"test.{unique}."},
    )
    assert done.returncode == 1 and "2 accepted, 7 refused" in done.stdout
    refused = dict(line.split(": refused: ") for line in done.stderr.strip().splitlines())
    assert refused == {
        "row 3 (line 4) bad-facility": "unknown facility 'garage-99'",
        "row 4 (line 5) bad-negative": "amount_cents -600 is negative",
        "row 5 (line 6) bad-plate": "plate '!!!' is not a plate (1-10 letters and digits)",
        "row 6 (line 7) bad-future": "paid_at 2099-01-01T00:00:00+00:00 is in the future",
        "row 7 (line 8) bad-type": "amount_cents 'six dollars' is not a whole number of cents",
        "row 8 (line 9) bad-time": refused["row 8 (line 9) bad-time"],
        "row 9 (line 10) bad-kind": refused["row 9 (line 10) bad-kind"],
    }
    assert refused["row 8 (line 9) bad-time"].startswith("paid_at ('yesterday'): Input should be a valid datetime")
    assert refused["row 9 (line 10) bad-kind"].startswith("kind ('cash'): Input should be")
    published = read_topic(bootstrap, topic)
    assert sorted((p["payment_id"], p["plate"], p["source"]) for p in published) == [
        ("ok-1", "8ABC123", "station-4"),
        ("ok-2", "4PRM444", "csv:payments.csv"),
    ]


def test_a_csv_with_unknown_columns_is_refused_whole(tmp_path, bootstrap):
    path = tmp_path / "p.csv"
    path.write_text("payment_id,kind,facility_id,plate,paid_at,colour\n")
    done = run_cli("revenue", "import-payments", str(path), env={"ALPR_KAFKA_BOOTSTRAP": bootstrap})
    assert done.returncode == 2 and "unknown column(s) colour" in done.stderr


def test_http_endpoint_needs_payments_write_and_answers_per_record(topic_factory, bootstrap):
    topic = topic_factory(Topic.PAYMENTS)
    audit_topic = topic_factory(Topic.AUDIT)
    from alpr.audit import AuditClient

    settings = RevenueSettings(kafka_bootstrap=bootstrap, auth_secret=SECRET, environment="test")
    services = Services(
        settings,
        store=None,
        tariff=load_tariff(DEMO),
        publisher=PaymentPublisher(bootstrap, topic, payment_check(settings)),
        revocations=RevocationSet("revenue", loaded=True),
    )
    client = TestClient(build_app(services, Workers(), AuditClient(bootstrap, "revenue", topic=audit_topic)))
    body = {
        "payments": [
            {
                "payment_id": "web-1",
                "kind": "pay_by_plate",
                "facility_id": "garage-1",
                "plate": "8ABC123",
                "amount_cents": 300,
                "paid_at": "2026-11-24T18:05:00Z",
                "valid_until": "2026-11-24T19:05:00Z",
            },
            {
                "payment_id": "web-2",
                "kind": "pay_by_plate",
                "facility_id": "garage-1",
                "plate": "8ABC123",
                "amount_cents": "many",
                "paid_at": "2026-11-24T18:05:00Z",
            },
        ]
    }
    assert client.post("/v1/payments", json=body).status_code == 401
    enforcement = issue_token(SECRET, "officer", "enforcement")
    assert client.post("/v1/payments", json=body, headers={"Authorization": f"Bearer {enforcement}"}).status_code == 403
    finance = issue_token(SECRET, "clerk", "finance")
    r = client.post("/v1/payments", json=body, headers={"Authorization": f"Bearer {finance}"})
    assert r.status_code == 200, r.text
    assert (r.json()["accepted"], r.json()["refused"]) == (1, 1)
    assert r.json()["results"][1]["reason"] == "amount_cents 'many' is not a whole number of cents"
    assert [p["payment_id"] for p in read_topic(bootstrap, topic)] == ["web-1"]
    events = read_topic(bootstrap, audit_topic)
    assert [(e["user"], e["action"], e["outcome"]) for e in events] == [
        ("anonymous", "payments.write", "denied"),
        ("officer", "payments.write", "denied"),
        ("clerk", "payments.write", "allowed"),
    ]
