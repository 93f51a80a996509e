"""The console: one web page for every role, behind one login (issue 17).

Served by the governance service because the login, the users and the audit trail are its own:
the console adds no service and no second place where a session lives. A login sets an
HttpOnly, SameSite=Strict cookie holding the user's token (`alpr.http.CONSOLE_COOKIE`); the
page's scripts never see the token. They call this service's own API directly and every other
service's through `/console/api/<service>/<path>`, which forwards the request with the cookie's
token as its bearer token: the owning service's `Guard` decides and audits, exactly as for any
API client (the role matrix is enforced there, not here). Nothing but the login page and the
public transparency page (`/public/...`) is served without a valid session.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from alpr.auth import AuthError, Principal, verify_token
from alpr.http import CONSOLE_COOKIE, CONSOLE_HEADER, authenticate
from alpr.roles import PERSON_ROLES, permissions_of
from services.audit.deps import AuditDep, LoginDep, RegistryDep, RevocationsDep, client_of
from services.audit.login import LoginRefused
from services.audit.routes import auth

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
PAGES = Path(__file__).resolve().parent.parent / "console"
# The pages load nothing from elsewhere: scripts and styles are inline, images are blob: URLs of
# crops fetched through the API.
CSP = (
    "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' blob: data:; "
    "frame-ancestors 'none'; form-action 'self'"
)
# Forwarded both ways; everything else (cookies above all) stays on its side of the proxy.
REQUEST_HEADERS = ("content-type", "accept", "x-alpr-purpose", "x-alpr-case")
RESPONSE_HEADERS = ("content-type", "content-disposition", "x-evidence-sha256", "retry-after")


class ConsoleLoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def _page(name: str, request: Request) -> HTMLResponse:
    stale_ms = int(request.app.state.settings.console_stale_after_s * 1000)
    return HTMLResponse(
        (PAGES / name).read_text().replace("__STALE_AFTER_MS__", str(stale_ms)),
        headers={"Cache-Control": "no-store", "Content-Security-Policy": CSP},
    )


def _session(request: Request) -> Principal | None:
    """The cookie's principal, when its token is valid and not revoked; None otherwise."""
    token = request.cookies.get(CONSOLE_COOKIE)
    if not token:
        return None
    try:
        principal = verify_token(request.app.state.auth_secret, token)
    except AuthError:
        return None
    return None if request.app.state.revocations.refusal(principal) is not None else principal


def _console_request(request: Request) -> None:
    # A state change or data call from the page always carries the header (see alpr.http).
    if request.headers.get(CONSOLE_HEADER) != "1":
        raise HTTPException(403, f"console requests carry the {CONSOLE_HEADER} header")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _page("login.html", request)


@router.post("/login")
def login(body: ConsoleLoginIn, request: Request, service: LoginDep) -> JSONResponse:
    _console_request(request)
    try:
        session = service.login(body.username, body.password, client_of(request))
    except LoginRefused as refused:
        raise HTTPException(refused.status, refused.public) from None
    response = JSONResponse({"role": session.role, "must_change_password": session.must_change_password})
    secure = request.url.scheme == "https" or request.app.state.settings.environment == "production"
    response.set_cookie(
        CONSOLE_COOKIE,
        session.token,
        max_age=max(0, session.expires_at - int(time.time())),
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    return response


@router.post("/logout", status_code=204)
def logout(request: Request, revocations: RevocationsDep, audit: AuditDep) -> Response:
    """The token is revoked everywhere (as `/v1/auth/logout`), then the cookie is dropped."""
    _console_request(request)
    auth.logout(request, revocations, audit)
    response = Response(status_code=204)
    response.delete_cookie(CONSOLE_COOKIE, path="/")
    return response


@router.get("", include_in_schema=False)
@router.get("/", response_class=HTMLResponse)
def console(request: Request) -> Response:
    if _session(request) is None:
        return RedirectResponse("/console/login", status_code=303)
    return _page("console.html", request)


@router.get("/api/me")
def me(request: Request, registry: RegistryDep) -> dict[str, Any]:
    """Who is logged in, what the role may do (the pages shown), when the session ends, and the
    purposes a data request may state. No ALPR data."""
    _console_request(request)
    principal = authenticate(request, "console.me")
    user = registry.require(principal.user)
    return {
        "user": principal.user,
        "full_name": user.full_name,
        "role": principal.role,
        "permissions": sorted(p.value for p in permissions_of(principal.role)),
        "expires_at": principal.expires_at,
        "must_change_password": user.must_change,
        "purposes": [
            {"code": p.code, "label": p.label, "needs_case": p.needs_case} for p in request.app.state.purposes.items
        ],
        "services": sorted(request.app.state.settings.console_sources),
        "roles": sorted(PERSON_ROLES),  # what a new user may be given (alpr/roles.py)
    }


@router.api_route("/api/{service}/{path:path}", methods=["GET", "POST"])
async def forward(service: str, path: str, request: Request) -> Response:
    """The request, with the session's token, to `service`; its answer as it is. The target
    service authorizes and audits; a missing session is refused here without forwarding."""
    _console_request(request)
    sources: dict[str, str] = request.app.state.settings.console_sources
    if service not in sources:
        raise HTTPException(404, f"no service {service!r} behind the console (ALPR_AUDIT_CONSOLE_SOURCES)")
    if not path.startswith("v1/"):
        raise HTTPException(404, "the console forwards API paths (/v1/...) only")
    token = request.cookies.get(CONSOLE_COOKIE)
    if not token:
        raise HTTPException(401, "not logged in", headers={"WWW-Authenticate": "Bearer"})
    headers = {k: v for k, v in request.headers.items() if k.lower() in REQUEST_HEADERS}
    headers["authorization"] = f"Bearer {token}"
    # The person's address, for the target's audit record: believed there only from the hosts
    # in its ALPR_TRUSTED_PROXIES (this governance host), else the record names this host.
    # One address, as this service sees it, not the browser's own header passed on.
    if client_of(request):
        headers["x-forwarded-for"] = client_of(request)
    client: httpx.AsyncClient = request.app.state.console_client
    outgoing = client.build_request(
        request.method,
        f"{sources[service].rstrip('/')}/{path}",
        params=list(request.query_params.multi_items()),
        content=await request.body(),
        headers=headers,
        # A live stream (occupancy's server-sent events) stays open: no read timeout for it.
        timeout=httpx.Timeout(30.0, connect=5.0, read=None if path.endswith("/stream") else 30.0),
    )
    try:
        upstream = await client.send(outgoing, stream=True)
    except httpx.HTTPError as err:
        raise HTTPException(502, f"{service} did not answer: {type(err).__name__}") from None
    passed = {k: v for k, v in upstream.headers.items() if k.lower() in RESPONSE_HEADERS}
    if upstream.headers.get("content-type", "").startswith("text/event-stream"):
        # Passed on as it arrives, and closed upstream when the page goes away.
        return StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            headers={**passed, "Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            background=BackgroundTask(upstream.aclose),
        )
    try:
        body = await upstream.aread()
    finally:
        await upstream.aclose()
    return Response(body, status_code=upstream.status_code, headers=passed)


def console_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
