"""The console's session (services/audit/routes/console.py) over the real governance app: the
cookie is HttpOnly and SameSite=Strict, is a login only with the console header, ends at logout
everywhere, the forwarding route sends nothing without a session, and what it forwards is
audited by the owning service with the person's address."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends, Request
from fastapi.testclient import TestClient

from alpr.audit import AuditClient
from alpr.http import CONSOLE_COOKIE, Access, Guard, create_app, install_auth
from alpr.revocations import RevocationSet
from alpr.roles import Permission
from tests.support.governance import PASSWORD, SECRET, add_user
from tests.support.kafka import audit_events
from tests.support.net import served

pytestmark = pytest.mark.kafka
CONSOLE = {"X-ALPR-Console": "1"}


def test_the_console_session_is_a_cookie_the_page_cannot_read(gov):
    add_user(gov.registry, "audrey", "auditor")
    client = gov.client
    # Nothing but the login page before login.
    r = client.get("/console/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    page = client.get("/console/login")
    assert page.status_code == 200 and '<label for="password">' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # A login posted without the header (a cross-site form) is refused before the password is tried.
    assert client.post("/console/login", json={"username": "audrey", "password": PASSWORD}).status_code == 403
    r = client.post("/console/login", json={"username": "audrey", "password": "wrong"}, headers=CONSOLE)
    assert r.status_code == 401 and CONSOLE_COOKIE not in r.cookies

    r = client.post("/console/login", json={"username": "audrey", "password": PASSWORD}, headers=CONSOLE)
    assert r.status_code == 200 and r.json() == {"role": "auditor", "must_change_password": True}  # a new user
    token = r.cookies[CONSOLE_COOKIE]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=" in cookie
    assert "access_token" not in r.text  # the token never reaches the page's scripts

    assert client.get("/console/", follow_redirects=False).status_code == 200
    me = client.get("/console/api/me", headers=CONSOLE).json()
    assert (me["user"], me["role"], me["permissions"]) == ("audrey", "auditor", ["audit.read"])
    assert [p["code"] for p in me["purposes"]] == ["revenue", "enforcement", "occupancy", "appeal"]
    # The cookie is a login for the API only with the console header.
    assert client.get("/v1/audit/events").status_code == 401
    assert client.get("/v1/audit/events", headers=CONSOLE).status_code == 200
    # The forwarding route: only configured services, only API paths.
    assert client.get("/console/api/nowhere/v1/x", headers=CONSOLE).status_code == 404
    assert client.get("/console/api/occupancy/metrics", headers=CONSOLE).status_code == 404

    # Logout revokes the token everywhere and drops the cookie.
    assert client.post("/console/logout", headers=CONSOLE).status_code == 204
    assert CONSOLE_COOKIE not in client.cookies
    assert client.get("/console/", follow_redirects=False).status_code == 303
    assert client.get("/console/api/occupancy/v1/facilities", headers=CONSOLE).status_code == 401
    client.cookies.set(CONSOLE_COOKIE, token)  # a copy of the cookie kept from before the logout
    assert client.get("/v1/audit/events", headers=CONSOLE).status_code == 401
    assert client.get("/console/", follow_redirects=False).status_code == 303


Search = Annotated[Access, Depends(Guard(Permission.PLATES_SEARCH, "plate.search"))]


def _probe(audit: AuditClient):
    """A service behind the console, as every service guards and audits its routes (alpr.http)."""
    target = create_app("probe", checks={})
    install_auth(target, auth_secret=SECRET, audit=audit, revocations=RevocationSet("probe", loaded=True))

    @target.get("/v1/whoami")
    def whoami(access: Search, request: Request):
        access.served(filters={}, plates=[], row_count=0)
        return {
            "client": request.client.host if request.client else "",
            "forwarded": request.headers.get("x-forwarded-for"),
        }

    return target


@pytest.mark.parametrize("gov", ["sqlite"], indirect=True)
def test_a_call_through_the_console_is_audited_with_the_persons_address(gov, bootstrap, topic_factory, unique):
    # The owning service records the person's address, not the governance host's: governance
    # sends the address it sees, and the target believes it from its trusted proxy only.
    topic = topic_factory("audit.v1")
    target = _probe(AuditClient(bootstrap, "probe", topic=topic))
    add_user(gov.registry, "enid", "enforcement")
    app = gov.client.app
    # One loop for every request, as under uvicorn: the console's client pools its connections.
    with TestClient(app, client=("198.51.100.20", 50123)) as browser:
        r = browser.post("/console/login", json={"username": "enid", "password": PASSWORD}, headers=CONSOLE)
        assert r.status_code == 200
        for trusted, recorded in (("127.0.0.1", "198.51.100.20"), ("", "127.0.0.1")):
            with served(target, trusted_proxies=trusted) as url:
                app.state.settings = gov.settings.model_copy(update={"console_sources": {"probe": url}})
                # The browser's own X-Forwarded-For is not passed on: governance names what it sees.
                r = browser.get("/console/api/probe/v1/whoami", headers={**CONSOLE, "X-Forwarded-For": "192.0.2.66"})
                assert r.status_code == 200, r.text
                assert r.json() == {"client": recorded, "forwarded": "198.51.100.20"}
    events = audit_events(bootstrap, topic, f"g-{unique}", expected=2)
    assert [(e["user"], e["client"]) for e in events] == [("enid", "198.51.100.20"), ("enid", "127.0.0.1")]
