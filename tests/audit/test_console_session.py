"""The console's session (services/audit/routes/console.py) over the real governance app: the
cookie is HttpOnly and SameSite=Strict, is a login only with the console header, ends at logout
everywhere, and the forwarding route sends nothing without a session."""

from __future__ import annotations

import pytest

from alpr.http import CONSOLE_COOKIE
from tests.support.governance import PASSWORD, add_user

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
