"""The shared service shape: /healthz, /metrics, and login-only data routes that audit every access."""

from __future__ import annotations

import socket
from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from alpr.audit import AuditClient
from alpr.auth import issue_token
from alpr.http import Access, Guard, create_app, install_auth
from alpr.revocations import RevocationSet
from alpr.roles import Permission
from tests.support.kafka import audit_events
from tests.support.net import served

SECRET = "test-secret-0123456789abcdef-0123456789"
Search = Annotated[Access, Depends(Guard(Permission.PLATES_SEARCH, "plate.search"))]


def make_app(audit: AuditClient, ready: bool = True):
    app = create_app("probe", checks={"store": lambda: ready})
    install_auth(app, auth_secret=SECRET, audit=audit, revocations=RevocationSet("probe", loaded=True))

    @app.get("/v1/passes")
    def passes(access: Search, plate: str):
        rows = [{"plate": plate}]
        access.served(filters={"plate": plate}, plates=[plate], row_count=len(rows))
        return rows

    return app


def test_healthz_and_metrics():
    audit = AuditClient("127.0.0.1:1", "probe", timeout_s=1)
    client = TestClient(make_app(audit))
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["ready"] is True
    assert TestClient(make_app(audit, ready=False)).get("/healthz").status_code == 503
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "# TYPE alpr_messages_total counter" in metrics.text


@pytest.mark.kafka
def test_data_route_requires_login_and_leaves_one_audit_event(bootstrap, topic_factory, unique):
    topic = topic_factory("audit.v1")
    client = TestClient(make_app(AuditClient(bootstrap, "probe", topic=topic)))

    assert client.get("/v1/passes", params={"plate": "8ABC123"}).status_code == 401
    good = issue_token(SECRET, "jdoe", "enforcement")
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    expired = issue_token(SECRET, "jdoe", "enforcement", ttl_s=60, now=1_000_000)
    forged = issue_token("another-secret-0123456789-0123456789", "jdoe", "enforcement")
    for token in (tampered, expired, forged):
        assert (
            client.get("/v1/passes", params={"plate": "X"}, headers={"Authorization": f"Bearer {token}"}).status_code
            == 401
        )
    wrong_role = issue_token(SECRET, "ops", "operations")
    assert (
        client.get("/v1/passes", params={"plate": "X"}, headers={"Authorization": f"Bearer {wrong_role}"}).status_code
        == 403
    )

    r = client.get("/v1/passes", params={"plate": "8ABC123"}, headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 200 and r.json() == [{"plate": "8ABC123"}]

    events = audit_events(bootstrap, topic, f"g-{unique}", expected=6)
    allowed = [e for e in events if e["outcome"] == "allowed"]
    denied = [e for e in events if e["outcome"] == "denied"]
    assert len(allowed) == 1 and len(denied) == 5
    assert allowed[0]["user"] == "jdoe" and allowed[0]["plates"] == ["8ABC123"] and allowed[0]["row_count"] == 1
    assert allowed[0]["action"] == "plate.search" and allowed[0]["filters"] == {"plate": "8ABC123"}
    assert {e["reason"] for e in denied} >= {
        "missing bearer token",
        "token expired",
        "role operations lacks plates.search",
    }


@pytest.mark.kafka
def test_the_audit_trail_believes_a_forwarded_client_only_from_a_trusted_proxy(bootstrap, topic_factory, unique):
    # uvicorn's own default believes X-Forwarded-For from 127.0.0.1: any local process could
    # then name another client in the trail. A service believes only ALPR_TRUSTED_PROXIES.
    import httpx

    topic = topic_factory("audit.v1")
    audit = AuditClient(bootstrap, "probe", topic=topic)
    token = issue_token(SECRET, "jdoe", "enforcement")
    for trusted in ("", "127.0.0.1", "10.9.0.0/16"):
        with served(make_app(audit), trusted_proxies=trusted) as url:
            for plate in ("1FWD001", "1FWD002"):  # allowed, then refused (no token)
                headers = {"X-Forwarded-For": "203.0.113.7"}
                if plate == "1FWD001":
                    headers["Authorization"] = f"Bearer {token}"
                status = httpx.get(f"{url}/v1/passes", params={"plate": plate}, headers=headers).status_code
                assert status == (200 if plate == "1FWD001" else 401)
    events = audit_events(bootstrap, topic, f"g-{unique}", expected=6)
    clients = [(e["outcome"], e["client"]) for e in events]
    assert clients == [
        ("allowed", "127.0.0.1"),
        ("denied", "127.0.0.1"),  # nothing trusted: the connecting address
        ("allowed", "203.0.113.7"),
        ("denied", "203.0.113.7"),  # the trusted proxy's word, for refusals too
        ("allowed", "127.0.0.1"),
        ("denied", "127.0.0.1"),  # a proxy elsewhere is trusted, this caller is not
    ]


def test_trusted_proxies_are_addresses_or_networks(monkeypatch):
    from pydantic import ValidationError

    from services.occupancy.settings import OccupancySettings

    assert OccupancySettings(trusted_proxies=" 10.0.4.7, 10.0.5.0/24 ,").trusted_proxies == "10.0.4.7,10.0.5.0/24"
    monkeypatch.setenv("ALPR_TRUSTED_PROXIES", "::1")  # one variable for every service
    assert OccupancySettings().trusted_proxies == "::1"
    for bad in ("*", "gov.internal", "10.0.4.7;10.0.4.8"):
        with pytest.raises(ValidationError, match="not an IP address or network"):
            OccupancySettings(trusted_proxies=bad)


@pytest.mark.kafka
def test_a_refusal_queued_at_shutdown_is_delivered_by_close(bootstrap, topic_factory, unique):
    # Refusals are audited without waiting for the broker; the services close their audit
    # client on shutdown so a refusal served just before it is not lost.
    topic = topic_factory("audit.v1")
    audit = AuditClient(bootstrap, "probe", topic=topic)
    audit.record_nowait(audit.event(None, "plate.search", "/v1/passes", outcome="denied", reason="last one"))
    audit.close()
    [event] = audit_events(bootstrap, topic, f"g-{unique}", expected=1)
    assert event["outcome"] == "denied" and event["reason"] == "last one"


def test_data_is_not_served_when_the_audit_log_is_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        client = TestClient(make_app(AuditClient(f"127.0.0.1:{port}", "probe", timeout_s=1)))
        token = issue_token(SECRET, "jdoe", "enforcement")
        r = client.get("/v1/passes", params={"plate": "8ABC123"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 503 and "audit log unavailable" in r.json()["detail"]
    assert "8ABC123" not in r.text.replace("plate=8ABC123", "")


def test_the_apis_async_resources_close_on_its_loop_after_it_stops():
    # The console's pooled HTTP client lives on the API's loop: closed there, after the last request.
    import asyncio

    import httpx

    from alpr.runtime import ApiServer

    async def run() -> list[str]:
        steps: list[str] = []
        client = httpx.AsyncClient()

        async def close() -> None:
            steps.append("closing while serving" if not server.server.should_exit else "closed after the stop")
            await client.aclose()

        async def failing() -> None:
            raise RuntimeError("a broken closer does not keep the next from running")

        server = ApiServer(
            make_app(AuditClient("127.0.0.1:1", "probe", timeout_s=1)),
            "127.0.0.1",
            0,
            "warning",
            [],
            after_stop=[failing, close],
        )
        await server.on_start()
        port = server.server.servers[0].sockets[0].getsockname()[1]
        assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        await server.on_stop()
        steps.append(f"client closed: {client.is_closed}")
        return steps

    assert asyncio.run(run()) == ["closed after the stop", "client closed: True"]
