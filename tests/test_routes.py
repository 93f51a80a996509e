"""Every route of every service's app: data routes require a login, and an allowed request
leaves exactly one audit event (policy 3.C.1 and 6).

Routes are found by walking each app's dependency tree for a `Guard`; a route without one
must be on the short PUBLIC list below, each with the reason it serves no ALPR data.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from alpr.audit import AuditClient
from alpr.auth import issue_token
from alpr.contracts.registry import Topic
from alpr.http import Guard
from alpr.revocations import RevocationSet
from alpr.roles import ROLE_PERMISSIONS
from alpr.runtime import Workers
from tests.support.apps import occupancy_api, revenue_api

SECRET = "r" * 40

# (service, method, path) -> why it is public.
PUBLIC = {
    ("*", "GET", "/healthz"): "readiness only",
    ("*", "GET", "/metrics"): "counters without plates",
    ("*", "GET", "/openapi.json"): "API description",
    ("*", "GET", "/docs"): "API description",
    ("*", "GET", "/docs/oauth2-redirect"): "API description",
    ("*", "GET", "/redoc"): "API description",
    ("audit", "POST", "/v1/auth/login"): "the login itself (audited by LoginService)",
    ("audit", "POST", "/v1/auth/logout"): "verifies the bearer token itself; audited",
    ("audit", "POST", "/v1/auth/password"): "verifies the bearer token itself; audited",
    ("audit", "GET", "/public/policy"): "policy section 11: the published policy",
    ("audit", "GET", "/public/stats"): "policy section 11: aggregate counts, no plates",
    ("audit", "GET", "/public/accuracy"): "policy section 11: revenue's facility accuracy, passed on; no plates",
    ("ingest", "POST", "/v1/frames"): "camera upload, authenticated by the camera's own token",
    ("revenue", "GET", "/public/accuracy"): "policy section 11: facility-level accuracy figures, no plates",
    ("occupancy", "GET", "/"): "the dashboard page; its data comes from guarded routes",
    ("occupancy", "GET", "/dashboard"): "the dashboard page; its data comes from guarded routes",
}


class CountingAudit(AuditClient):
    """The real audit client (events go to the real broker), counting what each request records."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.recorded = []

    def record(self, event):
        super().record(event)
        self.recorded.append(event)

    def record_nowait(self, event):
        super().record_nowait(event)
        self.recorded.append(event)


def guards(route: APIRoute) -> list[Guard]:
    found, stack = [], [route.dependant]
    while stack:
        d = stack.pop()
        if isinstance(d.call, Guard):
            found.append(d.call)
        stack.extend(d.dependencies)
    return found


def _audit_app(tmp_path, audit):
    from services.audit.main import build_app, open_audit_store
    from services.audit.settings import AuditSettings

    settings = AuditSettings(data_dir=tmp_path, auth_secret=SECRET, environment="test", kafka_bootstrap=audit.bootstrap)
    return build_app(
        settings, open_audit_store(settings), Workers(), audit, revocations=RevocationSet("audit", loaded=True)
    )


def _ingest_app(tmp_path, audit):
    from services.ingest.main import build_service
    from services.ingest.settings import IngestSettings

    return build_service(
        IngestSettings(data_dir=tmp_path, auth_secret=SECRET, environment="test", kafka_bootstrap=audit.bootstrap),
        audit=audit,
    ).app


def _recognizer_app(tmp_path, audit):
    from services.recognizer.main import build_app

    return build_app(Workers())


FACTORIES = {"audit": _audit_app, "ingest": _ingest_app, "recognizer": _recognizer_app}
FACTORIES["occupancy"] = lambda tmp_path, audit: occupancy_api(tmp_path, audit, SECRET)
FACTORIES["revenue"] = lambda tmp_path, audit: revenue_api(tmp_path, audit, SECRET)


def api_routes(routes, prefix: str = ""):
    """(full path, APIRoute) for every route, including those of included routers (this
    FastAPI keeps an included router as one entry instead of copying its routes)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router") and hasattr(route, "include_context"):
            yield from api_routes(route.original_router.routes, prefix + route.include_context.prefix)


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.mark.kafka
@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_every_data_route_needs_a_login_and_audits_each_allowed_request(service, bootstrap, topic_factory, tmp_path):
    audit = CountingAudit(bootstrap, service, topic=topic_factory(Topic.AUDIT))
    audit.bootstrap = bootstrap
    app = FACTORIES[service](tmp_path, audit)
    from alpr.http import install_auth

    if not hasattr(app.state, "audit"):
        install_auth(app, auth_secret=SECRET, audit=audit, revocations=RevocationSet(service, loaded=True))
    client = TestClient(app)
    checked = 0
    for path, route in api_routes(app.routes):
        for method in route.methods:
            route_guards = guards(route)
            public = PUBLIC.get(("*", method, path)) or PUBLIC.get((service, method, path))
            if not route_guards:
                assert public, f"{service} {method} {path} has no Guard and is not on the PUBLIC list"
                continue
            assert not public, f"{service} {method} {path} is guarded but listed as public"
            # Anonymous: refused before anything else happens.
            r = client.request(method, fill(path))
            assert r.status_code == 401, f"{service} {method} {path}: anonymous got {r.status_code}"
            checked += 1
            # Allowed: a role with the permission; a successful GET records exactly one event.
            permission = route_guards[0].permission
            if "{" in path or method != "GET" or permission.value == "release.export":
                continue
            role = next(role for role, perms in ROLE_PERMISSIONS.items() if permission in perms and role != "release")
            token = issue_token(SECRET, "route-check", role)
            before = len(audit.recorded)
            r = client.request(method, path, headers={"Authorization": f"Bearer {token}"})
            if r.status_code == 422:
                continue  # needs parameters: the anonymous check above still applies
            assert r.status_code < 400, f"{service} {method} {path}: {r.status_code} {r.text[:200]}"
            assert len(audit.recorded) - before == 1, (
                f"{service} {method} {path} recorded {len(audit.recorded) - before} events"
            )
    # The recognizer serves nothing to people (frames go to Kafka), so it has no user routes;
    # every other service must have some (ingest: its camera source states), or this test
    # checked nothing.
    assert checked or service == "recognizer", f"{service} has no guarded route"
