"""The same shape for every service's HTTP API: /healthz, /metrics, login-only data routes.

`create_app` gives a FastAPI app with the two operational routes; `Guard` is the dependency
that every data route uses: it verifies the bearer token, refuses a revoked one
(`alpr.revocations`), checks the role matrix, and hands the route an `Access` whose
`served(...)` records the audit event before data leaves (fail closed: no audit record, no
data; no complete revocation set, no data either).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import alpr.metrics  # noqa: F401  (registers the shared metrics, so every /metrics lists them)
from alpr.audit import AuditClient, AuditUnavailable
from alpr.auth import AuthError, Principal, bearer, verify_token
from alpr.contracts.models import utc_iso
from alpr.purposes import PurposeRefused, Purposes, StatedPurpose
from alpr.revocations import RevocationSet
from alpr.roles import Permission

Check = Callable[[], bool]


def state_dep(name: str):
    """A dependency returning `app.state.<name>`: what a service put there at start (its store,
    settings, registry), for `Annotated[X, Depends(state_dep("x"))]` aliases."""

    def get(request: Request):
        return getattr(request.app.state, name)

    return get


def create_app(service: str, checks: dict[str, Check] | None = None, **fastapi_kwargs) -> FastAPI:
    """A service app with /healthz (ready only when every check passes) and /metrics."""
    app = FastAPI(title=f"alpr {service}", **fastapi_kwargs)
    app.state.service = service
    app.state.checks = dict(checks or {})

    @app.get("/healthz", tags=["operations"])
    def healthz() -> JSONResponse:
        results = {}
        for name, check in app.state.checks.items():
            try:
                results[name] = bool(check())
            except Exception:
                results[name] = False
        ok = all(results.values())
        return JSONResponse({"service": service, "ready": ok, "checks": results}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"])
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


@dataclass
class Access:
    """An authorized request: who, and the audit record to make before answering."""

    principal: Principal
    action: str
    resource: str
    client: str
    audit: AuditClient
    purpose: StatedPurpose | None = None

    def served(self, *, filters: dict | None = None, plates=(), row_count: int = 0, wait: bool = True) -> None:
        """Record the access; raises 503 (and so serves nothing) when the audit log is unreachable.

        `wait=False` is for operational answers that hold no ALPR data (camera source states):
        they are recorded without waiting, so that the status page still answers while Kafka is
        away, which is when operations need it most."""
        event = self.audit.event(
            self.principal,
            self.action,
            self.resource,
            outcome="allowed",
            client=self.client,
            filters=filters,
            plates=plates,
            row_count=row_count,
            purpose=self.purpose,
        )
        if not wait:
            self.audit.record_nowait(event)
            return
        try:
            self.audit.record(event)
        except AuditUnavailable as err:
            raise HTTPException(503, f"audit log unavailable, data not served: {err}") from None


# The console's session cookie (services/audit/routes/console.py): the user's token, HttpOnly so
# the page's scripts never hold it. Accepted only by an app that serves the console, and only on
# a request that also carries CONSOLE_HEADER, which a form or a link from another site cannot
# send (with SameSite=Strict, the defence against cross-site request forgery).
CONSOLE_COOKIE = "alpr_console"
CONSOLE_HEADER = "x-alpr-console"


def request_token(request: Request) -> str | None:
    """The request's `Authorization` header, or the console's cookie as one (see above)."""
    header = request.headers.get("authorization")
    if header is not None or not getattr(request.app.state, "console_cookie", False):
        return header
    cookie = request.cookies.get(CONSOLE_COOKIE)
    if cookie and request.headers.get(CONSOLE_HEADER) == "1":
        return f"Bearer {cookie}"
    return None


def authenticate(request: Request, action: str, *, operational: bool = False) -> Principal:
    """The request's principal: a valid bearer token that is not revoked. Otherwise an
    HTTPException, audited like every refusal: 401 for a missing, bad, expired or revoked
    token; 503 while this service has not read every revocation yet (it cannot tell whether
    the token was revoked while it was down). An `operational` route, which serves no ALPR
    data and must answer during a Kafka outage (camera source states), does not wait for that:
    it still refuses every revocation it knows."""
    state = request.app.state
    audit: AuditClient = state.audit
    revocations: RevocationSet = state.revocations
    client = request.client.host if request.client else ""
    path = request.url.path

    def refuse(principal: Principal | None, status: int, detail: str, reason: str, headers: dict) -> HTTPException:
        audit.record_nowait(audit.event(principal, action, path, outcome="denied", client=client, reason=reason))
        return HTTPException(status, detail, headers=headers)

    try:
        principal = verify_token(state.auth_secret, bearer(request_token(request)))
    except AuthError as err:
        raise refuse(None, 401, str(err), str(err), {"WWW-Authenticate": "Bearer"}) from None
    revoked = revocations.refusal(principal)
    if revoked is not None:
        reason = f"token revoked: {revoked.reason} by {revoked.by} at {utc_iso(revoked.at)}"
        raise refuse(principal, 401, "token revoked", reason, {"WWW-Authenticate": "Bearer"})
    if not operational and not revocations.loaded():
        reason = "token revocations not loaded yet"
        raise refuse(principal, 503, f"{reason}; retry shortly", reason, {"Retry-After": "1"})
    return principal


class Guard:
    """FastAPI dependency: `Depends(Guard(Permission.PLATES_SEARCH, "plate.search", purpose=True))`.

    Reads the auth secret, audit client, revocation set and purposes from `app.state`
    (`install_auth`). `operational=True` is for routes that serve no ALPR data and must answer
    while Kafka is away (see `authenticate`). `purpose=True`: the request must state why
    (alpr.purposes; Civil Code 1798.90.52), or it is refused (400) and the refusal audited; a
    `StatedPurpose` instead is the route's own, fixed purpose (the review queue's).
    """

    def __init__(
        self,
        permission: Permission,
        action: str,
        operational: bool = False,
        purpose: bool | StatedPurpose = False,
    ) -> None:
        self.permission = permission
        self.action = action
        self.operational = operational
        self.purpose = purpose

    def __call__(self, request: Request) -> Access:
        audit: AuditClient = request.app.state.audit
        client = request.client.host if request.client else ""
        principal = authenticate(request, self.action, operational=self.operational)

        def refuse(status: int, reason: str, stated: StatedPurpose | None = None) -> HTTPException:
            audit.record_nowait(
                audit.event(
                    principal,
                    self.action,
                    request.url.path,
                    outcome="denied",
                    client=client,
                    reason=reason,
                    purpose=stated,
                )
            )
            return HTTPException(status, reason)

        if not principal.can(self.permission):
            raise refuse(403, f"role {principal.role} lacks {self.permission.value}")
        stated: StatedPurpose | None = None
        if isinstance(self.purpose, StatedPurpose):
            stated = self.purpose
        elif self.purpose:
            purposes: Purposes = request.app.state.purposes
            code = request.query_params.get("purpose") or request.headers.get("x-alpr-purpose")
            case = request.query_params.get("case") or request.headers.get("x-alpr-case")
            try:
                stated = purposes.stated(code, case)
            except PurposeRefused as err:
                raise refuse(400, str(err)) from None
        return Access(principal, self.action, request.url.path, client, audit, stated)


def install_auth(
    app: FastAPI,
    *,
    auth_secret: str,
    audit: AuditClient,
    revocations: RevocationSet,
    purposes: Purposes | None = None,
) -> None:
    """What `Guard` reads. `revocations` is the service's `RevocationFeed` (or, for an app built
    without consumers, a `RevocationSet(loaded=True)`); `purposes` the configured access
    purposes (default: policy section 4's)."""
    app.state.auth_secret = auth_secret
    app.state.purposes = purposes or Purposes()
    app.state.audit = audit
    app.state.revocations = revocations
