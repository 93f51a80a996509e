"""Every plate search, image view and evidence download states its purpose (Civil Code
1798.90.52), the API refuses a request without one, and the audit event records it."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from alpr.audit import AuditClient
from alpr.auth import issue_token
from alpr.http import Access, Guard, create_app, install_auth
from alpr.purposes import POLICY_PURPOSES, Purpose, PurposeRefused, Purposes, StatedPurpose, load_purposes
from alpr.revocations import RevocationSet
from alpr.roles import Permission
from tests.support.kafka import audit_events

SECRET = "test-secret-0123456789abcdef-0123456789"
Search = Annotated[Access, Depends(Guard(Permission.PLATES_SEARCH, "plate.search", purpose=True))]


def test_the_policy_purposes_and_what_each_needs():
    purposes = Purposes()
    assert [p.code for p in POLICY_PURPOSES] == ["revenue", "enforcement", "occupancy", "appeal"]
    assert purposes.stated("revenue", None) == StatedPurpose("revenue", "")
    assert purposes.stated("appeal", " TC-2026-117 ") == StatedPurpose("appeal", "TC-2026-117")
    for code, case, says in [
        (None, None, "state the purpose"),
        ("curiosity", None, "unknown purpose 'curiosity'"),
        ("enforcement", "", "needs the case or citation number"),
        ("appeal", "'; DROP TABLE", "case number"),
    ]:
        with pytest.raises(PurposeRefused, match=says):
            purposes.stated(code, case)


def test_an_operator_configures_its_own_purposes(tmp_path):
    path = tmp_path / "purposes.yaml"
    path.write_text("- {code: towing, label: Tow-away of an abandoned vehicle, needs_case: true}\n")
    purposes = load_purposes(path)
    assert purposes.items == (Purpose("towing", "Tow-away of an abandoned vehicle", True),)
    with pytest.raises(PurposeRefused, match="unknown purpose 'revenue'"):
        purposes.stated("revenue", None)
    path.write_text("code: towing\n")
    with pytest.raises(ValueError, match="a YAML list"):
        load_purposes(path)
    path.write_text("- {code: Bad Code, label: x}\n")
    with pytest.raises(ValueError, match="lowercase"):
        load_purposes(path)
    assert load_purposes(None).items == POLICY_PURPOSES


@pytest.mark.kafka
def test_a_search_without_a_purpose_is_refused_and_the_stated_one_is_audited(bootstrap, topic_factory, unique):
    topic = topic_factory("audit.v1")
    app = create_app("probe")
    install_auth(
        app,
        auth_secret=SECRET,
        audit=AuditClient(bootstrap, "probe", topic=topic),
        revocations=RevocationSet("probe", loaded=True),
    )

    @app.get("/v1/passes")
    def passes(access: Search, plate: str):
        access.served(filters={"plate": plate}, plates=[plate], row_count=1)
        return [{"plate": plate}]

    client = TestClient(app)
    auth = {"Authorization": f"Bearer {issue_token(SECRET, 'jdoe', 'enforcement')}"}
    r = client.get("/v1/passes", params={"plate": "8ABC123"}, headers=auth)
    assert r.status_code == 400 and "state the purpose" in r.json()["detail"]
    assert "8ABC123" not in r.text
    # In the query (what an image URL can carry) or in the headers (what an API client sends).
    ok = client.get("/v1/passes", params={"plate": "8ABC123", "purpose": "enforcement", "case": "CIT-77"}, headers=auth)
    assert ok.status_code == 200
    by_header = client.get("/v1/passes", params={"plate": "7XYZ999"}, headers={**auth, "X-ALPR-Purpose": "revenue"})
    assert by_header.status_code == 200

    events = audit_events(bootstrap, topic, f"g-{unique}", expected=3)
    refused = [e for e in events if e["outcome"] == "denied"]
    allowed = sorted((e for e in events if e["outcome"] == "allowed"), key=lambda e: e["plates"])
    assert len(refused) == 1 and refused[0]["user"] == "jdoe" and "state the purpose" in refused[0]["reason"]
    assert [(e["plates"], e["purpose"], e["case_ref"]) for e in allowed] == [
        (["7XYZ999"], "revenue", ""),
        (["8ABC123"], "enforcement", "CIT-77"),
    ]
