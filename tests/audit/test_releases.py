"""Data releases (policy section 7) end to end: request, approval by another manager, one export."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone
from hashlib import sha256

import pytest
from fastapi.testclient import TestClient

from alpr.audit import AuditClient
from alpr.auth import issue_token
from alpr.http import create_app, install_auth
from alpr.release import ReleaseScope, release_router
from alpr.store.embedded import ChdbStore
from alpr.store.migrate import migrate
from tests.audit.test_governance import SECRET, add_user, gov, login  # noqa: F401  (fixture)

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]
NOW = datetime.now(timezone.utc)


def owning_service(store, audit):
    """An owning service's export route over its real passes table (what occupancy mounts)."""

    def export(scope: ReleaseScope):
        rows = store.query(
            f"SELECT pass_id, plate, toString(first_seen) AS first_seen FROM {store.database}.passes FINAL "
            "WHERE has({plates:Array(String)}, plate) ORDER BY pass_id", {"plates": list(scope.plates)})
        return {"passes": rows}

    app = create_app("occupancy")
    install_auth(app, auth_secret=SECRET, audit=audit)
    app.include_router(release_router(export))
    return app


def test_release_needs_a_public_agency_a_second_manager_and_is_exported_once(gov, bootstrap):
    data = ChdbStore(gov.store.path, "occupancy")
    try:
        migrate(data, "occupancy")
        data.insert("passes", [
            {"pass_id": "p1", "plate": "8ABC123", "first_seen": NOW, "last_seen": NOW, "direction": "entry"},
            {"pass_id": "p2", "plate": "7XYZ987", "first_seen": NOW, "last_seen": NOW, "direction": "entry"},
        ])
        source = TestClient(owning_service(data, AuditClient(bootstrap, "occupancy", topic=gov.audit_topic)))
        gov.client.app.state.release_clients = lambda: {"occupancy": source}

        # Only a release token opens the export route: a manager's own token does not.
        add_user(gov.registry, "clerk", "parking_management")
        add_user(gov.registry, "director", "parking_management")
        clerk = {"Authorization": f"Bearer {login(gov.client, 'clerk').json()['access_token']}"}
        director = {"Authorization": f"Bearer {login(gov.client, 'director').json()['access_token']}"}
        assert source.get("/v1/release-export", headers=director).status_code == 403

        body = {"agency": "LA County Sheriff", "agency_is_public": True, "requester": "Det. R. Diaz",
                "written_request_ref": "LASD-2026-0419", "legal_basis": "Search warrant 26-SW-88", "plates": ["8ABC123"]}
        assert gov.client.post("/v1/releases", json={**body, "agency_is_public": False}, headers=clerk).status_code == 422
        assert gov.client.post("/v1/releases", json={**body, "plates": []}, headers=clerk).status_code == 422
        r = gov.client.post("/v1/releases", json=body, headers=clerk)
        assert r.status_code == 201
        release_id = r.json()["release_id"]

        assert gov.client.post(f"/v1/releases/{release_id}/package", headers=director).status_code == 409  # not approved
        assert gov.client.post(f"/v1/releases/{release_id}/decision", json={"approve": True, "note": "ok"}, headers=clerk).status_code == 403
        assert gov.client.post(f"/v1/releases/{release_id}/decision", json={"approve": True, "note": "warrant verified"}, headers=director).status_code == 200

        r = gov.client.post(f"/v1/releases/{release_id}/package", headers=director)
        assert r.status_code == 200, r.text
        z = zipfile.ZipFile(io.BytesIO(r.content))
        manifest = json.loads(z.read("manifest.json"))
        passes = json.loads(z.read("occupancy.json"))["passes"]
        assert [p["plate"] for p in passes] == ["8ABC123"]  # only the scope, never the other plate
        assert manifest["files"]["occupancy.json"] == sha256(z.read("occupancy.json")).hexdigest()
        assert manifest["release"]["decided_by"] == "director" and manifest["release"]["request"]["written_request_ref"] == "LASD-2026-0419"
        assert r.headers["X-Package-SHA256"] == sha256(r.content).hexdigest()
        assert gov.client.post(f"/v1/releases/{release_id}/package", headers=director).status_code == 409  # once

        # A forged scope (other plates) needs the secret; a token for another release still only sees its scope.
        forged = issue_token("x" * 40, "release:evil", "release", scope={"release_id": "r", "agency": "a", "plates": ["7XYZ987"]})
        assert source.get("/v1/release-export", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    finally:
        data.close()
