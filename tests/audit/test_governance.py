"""Governance against the real broker and chDB: login, lockout, tokens, admin, supervisors, holds, transparency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alpr.auth import issue_token
from alpr.holds import HeldTable, HoldKeeper, holds_consumer
from alpr.store.migrate import migrate
from tests.support.governance import SECRET, TODAY, add_user, login
from tests.support.kafka import audit_events as read_audit_events

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def audit_events(bootstrap, topic, unique, n):
    return read_audit_events(bootstrap, topic, f"read-{unique}", n)


def test_only_authorized_and_trained_users_log_in(gov, bootstrap, unique):
    add_user(gov.registry, "untrained", "enforcement", trained_until=None)
    add_user(gov.registry, "unauthorized", "enforcement", authorized=False)
    add_user(gov.registry, "lapsed", "enforcement", trained_until=TODAY - timedelta(days=1))
    add_user(gov.registry, "officer", "enforcement")

    r = login(gov.client, "untrained")
    assert r.status_code == 403 and "no current training" in r.json()["detail"]
    assert login(gov.client, "unauthorized").json()["detail"] == "access refused: no written authorization on record"
    assert login(gov.client, "lapsed").status_code == 403
    assert login(gov.client, "nobody").status_code == 401
    r = login(gov.client, "officer")
    assert r.status_code == 200 and r.json()["role"] == "enforcement"

    events = audit_events(bootstrap, gov.audit_topic, unique, 5)
    logins = sorted((e["user"], e["outcome"], e["reason"]) for e in events if e["action"] == "login")
    assert logins == sorted(
        [
            ("untrained", "denied", "no current training record"),
            ("unauthorized", "denied", "no written authorization on record"),
            ("lapsed", "denied", "no current training record"),
            ("anonymous", "denied", "unknown user"),
            ("officer", "allowed", ""),
        ]
    )


def test_five_wrong_passwords_lock_the_account(gov):
    add_user(gov.registry, "jdoe", "enforcement")
    for _attempt in range(4):
        assert login(gov.client, "jdoe", "Wrong-password-1").status_code == 401
    assert login(gov.client, "jdoe").status_code == 200  # success resets the count
    for _attempt in range(5):
        assert login(gov.client, "jdoe", "Wrong-password-1").status_code == 401
    r = login(gov.client, "jdoe")
    assert r.status_code == 423 and "locked until" in r.json()["detail"]


def test_logout_revokes_and_bad_tokens_are_refused(gov):
    add_user(gov.registry, "aud", "auditor")
    token = login(gov.client, "aud").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert gov.client.get("/v1/audit/events", headers=headers).status_code == 200
    expired = issue_token(SECRET, "aud", "auditor", ttl_s=60, now=datetime.now(UTC).timestamp() - 3600)
    assert gov.client.get("/v1/audit/events", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    assert gov.client.get("/v1/audit/events", headers={"Authorization": f"Bearer {token[:-3]}xyz"}).status_code == 401
    assert gov.client.post("/v1/auth/logout", headers=headers).status_code == 204
    r = gov.client.get("/v1/audit/events", headers=headers)
    assert r.status_code == 401 and r.json()["detail"] == "token revoked"


def test_admin_creates_authorizes_and_trains_a_user_who_then_logs_in(gov):
    add_user(gov.registry, "root", "admin")
    admin = {"Authorization": f"Bearer {login(gov.client, 'root').json()['access_token']}"}
    r = gov.client.post(
        "/v1/users", json={"username": "newbie", "full_name": "New Bie", "role": "enforcement"}, headers=admin
    )
    assert r.status_code == 201
    otp = r.json()["one_time_password"]
    assert login(gov.client, "newbie", otp).status_code == 403  # not yet authorized in writing
    assert (
        gov.client.post(
            "/v1/users", json={"username": "newbie", "full_name": "X", "role": "enforcement"}, headers=admin
        ).status_code
        == 409
    )
    assert (
        gov.client.post(
            "/v1/users", json={"username": "x", "full_name": "X", "role": "superuser"}, headers=admin
        ).status_code
        == 422
    )
    assert (
        gov.client.post(
            "/v1/users/newbie/authorizations",
            json={"authorized_by": "Director", "authorized_on": str(TODAY), "document_ref": "MEMO-7"},
            headers=admin,
        ).status_code
        == 201
    )
    assert (
        gov.client.post(
            "/v1/users/newbie/training",
            json={"course": "ALPR 101", "completed_on": str(TODAY), "expires_on": str(TODAY + timedelta(days=365))},
            headers=admin,
        ).status_code
        == 201
    )
    r = login(gov.client, "newbie", otp)
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    token = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (
        gov.client.post(
            "/v1/auth/password", json={"current_password": otp, "new_password": "short"}, headers=token
        ).status_code
        == 422
    )
    assert (
        gov.client.post(
            "/v1/auth/password", json={"current_password": otp, "new_password": "Better-Passw0rd!"}, headers=token
        ).status_code
        == 204
    )
    assert login(gov.client, "newbie", "Better-Passw0rd!").json()["must_change_password"] is False
    assert gov.client.post("/v1/users/newbie/disable", headers=admin).status_code == 204
    assert login(gov.client, "newbie", "Better-Passw0rd!").status_code == 403
    # An enforcement officer is not an administrator.
    assert gov.client.get("/v1/users", headers=token).status_code in (401, 403)


def test_supervisors_see_only_their_staff(gov, bootstrap):
    add_user(gov.registry, "boss", "parking_management")
    add_user(gov.registry, "staff1", "enforcement", supervisor="boss")
    add_user(gov.registry, "outsider", "enforcement")
    for user in ("staff1", "outsider"):
        login(gov.client, user)
    boss = {"Authorization": f"Bearer {login(gov.client, 'boss').json()['access_token']}"}
    assert gov.client.get("/v1/audit/events", params={"user": "outsider"}, headers=boss).status_code == 403
    assert gov.client.get("/v1/audit/events", params={"user": "staff1"}, headers=boss).status_code == 200


def test_hold_placed_and_released_through_kafka_governs_the_purge(gov, bootstrap, unique, tmp_path):
    add_user(gov.registry, "pm", "parking_management")
    pm = {"Authorization": f"Bearer {login(gov.client, 'pm').json()['access_token']}"}
    old = datetime.now(UTC) - timedelta(days=400)

    # A data-owning service's database (in the test process's one chDB engine).
    from alpr.store.embedded import ChdbStore

    data = ChdbStore(gov.store.path, "occupancy")
    try:
        migrate(data, "occupancy")
        data.command("SYSTEM STOP TTL MERGES occupancy.passes")  # the rows are born old; see tests/test_holds.py
        data.insert(
            "passes",
            [
                {"pass_id": "held", "plate": "8ABC123", "first_seen": old, "last_seen": old, "direction": "entry"},
                {"pass_id": "free", "plate": "7XYZ987", "first_seen": old, "last_seen": old, "direction": "entry"},
            ],
        )
        keeper = HoldKeeper(data, [HeldTable("passes", "plate", "first_seen")])
        consumer = holds_consumer("occupancy", bootstrap, keeper, topic_prefix=gov.prefix, group_id=f"holds-{unique}")

        assert gov.client.post("/v1/holds", json={"basis": "subpoena", "case_ref": "X"}, headers=pm).status_code == 422
        assert (
            gov.client.post(
                "/v1/holds", json={"basis": "subpoena", "case_ref": "X", "plates": ["8 ABC'"]}, headers=pm
            ).status_code
            == 422
        )
        r = gov.client.post(
            "/v1/holds", json={"basis": "subpoena", "case_ref": "LASC 26-CV-1", "plates": ["8ABC123"]}, headers=pm
        )
        assert r.status_code == 201
        hold_id = r.json()["hold_id"]
        for _ in range(40):
            consumer.handle(consumer.poll_batch())
            if keeper.active:
                break
        data.command("SYSTEM START TTL MERGES occupancy.passes")
        data.command("OPTIMIZE TABLE occupancy.passes FINAL")
        assert [r["pass_id"] for r in data.query("SELECT pass_id FROM occupancy.passes")] == ["held"]

        assert gov.client.post(f"/v1/holds/{hold_id}/release", headers=pm).status_code == 200
        assert gov.client.post(f"/v1/holds/{hold_id}/release", headers=pm).status_code == 409
        for _ in range(40):
            consumer.handle(consumer.poll_batch())
            if not keeper.active:
                break
        data.command("OPTIMIZE TABLE occupancy.passes FINAL")
        assert data.query("SELECT pass_id FROM occupancy.passes") == []
        consumer.close()
    finally:
        data.close()


def test_transparency_page_is_public_and_plate_free(gov, bootstrap):
    assert "365 days" in gov.client.get("/public/policy").text
    add_user(gov.registry, "aud", "auditor")
    login(gov.client, "aud")
    stats = gov.client.get("/public/stats")
    assert stats.status_code == 200 and stats.json()["retention_days"] == 365
    assert "8ABC123" not in stats.text
