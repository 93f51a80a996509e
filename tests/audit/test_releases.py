"""Data releases (policy section 7) end to end: request, approval by another manager, one export."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from hashlib import sha256

import httpx
import pytest
from fastapi.testclient import TestClient

from alpr.audit import AuditClient
from alpr.auth import issue_token
from alpr.store.embedded import ChdbStore
from alpr.store.migrate import migrate
from tests.support.governance import SECRET, add_user, login

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]
NOW = datetime.now(UTC)


def the_owning_services(gov, bootstrap):
    """The real occupancy and revenue APIs (their own apps, export functions and migrated
    tables), in this process over the test's chDB directory, one client per name of the
    governance service's *default* `release_sources`: a service named there that mounts no
    export route fails the package."""
    from tests.support.apps import occupancy_api as occupancy_app
    from tests.support.apps import revenue_api as revenue_app

    stores = {name: ChdbStore(gov.store.path, name) for name in ("occupancy", "revenue")}
    for name, store in stores.items():
        migrate(store, name)
    audit = AuditClient(bootstrap, "release-test", topic=gov.audit_topic)
    apps = {
        "occupancy": occupancy_app(gov.store.path.parent, audit, SECRET, store=stores["occupancy"]),
        "revenue": revenue_app(gov.store.path.parent, audit, SECRET, store=stores["revenue"]),
    }
    assert set(gov.settings.release_sources) == {"occupancy", "revenue"}  # the defaults, untouched
    return stores, {name: TestClient(apps[name]) for name in gov.settings.release_sources}


def seed_both_plates(stores) -> None:
    both = ("8ABC123", "7XYZ987")
    stores["occupancy"].insert(
        "passes",
        [
            {"pass_id": f"p-{plate}", "plate": plate, "first_seen": NOW, "last_seen": NOW, "direction": "entry"}
            for plate in both
        ],
    )
    revenue = stores["revenue"]
    for plate in both:
        revenue.insert(
            "passes",
            [
                {
                    "pass_id": f"p-{plate}",
                    "plate": plate,
                    "first_seen": NOW,
                    "last_seen": NOW,
                    "direction": "entry",
                    "facility_id": "garage-1",
                }
            ],
        )
        revenue.insert(
            "sessions",
            [
                {
                    "session_id": f"s-{plate}",
                    "plate": plate,
                    "entry_at": NOW,
                    "state": "closed",
                    "facility_id": "garage-1",
                    "entry_pass_id": f"p-{plate}",
                }
            ],
        )
        revenue.insert(
            "payments",
            [
                {
                    "payment_id": f"pay-{plate}",
                    "plate": plate,
                    "paid_at": NOW,
                    "valid_from": NOW,
                    "valid_until": NOW,
                    "kind": "pay_by_plate",
                    "amount_cents": 500,
                    "facility_id": "garage-1",
                }
            ],
        )
        revenue.insert(
            "matches",
            [
                {
                    "match_id": f"m-{plate}",
                    "session_id": f"s-{plate}",
                    "plate": plate,
                    "entry_at": NOW,
                    "status": "unpaid",
                    "decided_at": NOW,
                    "facility_id": "garage-1",
                }
            ],
        )
        revenue.insert(
            "violations",
            [
                {
                    "violation_id": f"v-{plate}",
                    "session_id": f"s-{plate}",
                    "plate": plate,
                    "detected_at": NOW,
                    "kind": "unpaid",
                    "facility_id": "garage-1",
                }
            ],
        )


def test_release_needs_a_public_agency_a_second_manager_and_is_exported_once(gov, bootstrap):
    stores, sources = the_owning_services(gov, bootstrap)
    try:
        seed_both_plates(stores)
        gov.client.app.state.release_clients = lambda: sources
        source = sources["occupancy"]

        # Only a release token opens the export route: a manager's own token does not.
        add_user(gov.registry, "clerk", "parking_management")
        add_user(gov.registry, "director", "parking_management")
        clerk = {"Authorization": f"Bearer {login(gov.client, 'clerk').json()['access_token']}"}
        director = {"Authorization": f"Bearer {login(gov.client, 'director').json()['access_token']}"}
        assert source.get("/v1/release-export", headers=director).status_code == 403

        body = {
            "agency": "LA County Sheriff",
            "agency_is_public": True,
            "requester": "Det. R. Diaz",
            "written_request_ref": "LASD-2026-0419",
            "legal_basis": "Search warrant 26-SW-88",
            "plates": ["8ABC123"],
        }
        assert (
            gov.client.post("/v1/releases", json={**body, "agency_is_public": False}, headers=clerk).status_code == 422
        )
        assert gov.client.post("/v1/releases", json={**body, "plates": []}, headers=clerk).status_code == 422
        r = gov.client.post("/v1/releases", json=body, headers=clerk)
        assert r.status_code == 201
        release_id = r.json()["release_id"]

        assert (
            gov.client.post(f"/v1/releases/{release_id}/package", headers=director).status_code == 409
        )  # not approved
        assert (
            gov.client.post(
                f"/v1/releases/{release_id}/decision", json={"approve": True, "note": "ok"}, headers=clerk
            ).status_code
            == 403
        )
        assert (
            gov.client.post(
                f"/v1/releases/{release_id}/decision",
                json={"approve": True, "note": "warrant verified"},
                headers=director,
            ).status_code
            == 200
        )

        r = gov.client.post(f"/v1/releases/{release_id}/package", headers=director)
        assert r.status_code == 200, r.text
        z = zipfile.ZipFile(io.BytesIO(r.content))
        manifest = json.loads(z.read("manifest.json"))
        passes = json.loads(z.read("occupancy.json"))["passes"]
        assert [p["plate"] for p in passes] == ["8ABC123"]  # only the scope, never the other plate
        assert manifest["files"]["occupancy.json"] == sha256(z.read("occupancy.json")).hexdigest()
        # Revenue exports what it owns, within the same scope.
        revenue = json.loads(z.read("revenue.json"))
        assert sorted(revenue) == ["matches", "passes", "payments", "sessions", "violations"]
        assert {t: [r["plate"] for r in rows] for t, rows in revenue.items()} == {t: ["8ABC123"] for t in revenue}
        assert manifest["files"]["revenue.json"] == sha256(z.read("revenue.json")).hexdigest()
        assert (
            manifest["release"]["decided_by"] == "director"
            and manifest["release"]["request"]["written_request_ref"] == "LASD-2026-0419"
        )
        assert r.headers["X-Package-SHA256"] == sha256(r.content).hexdigest()
        assert gov.client.post(f"/v1/releases/{release_id}/package", headers=director).status_code == 409  # once

        # A forged scope (other plates) needs the secret; a token for another release still only sees its scope.
        forged = issue_token(
            "x" * 40, "release:evil", "release", scope={"release_id": "r", "agency": "a", "plates": ["7XYZ987"]}
        )
        for client in sources.values():
            assert client.get("/v1/release-export", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    finally:
        for store in stores.values():
            store.close()


def test_the_transparency_page_publishes_each_facilitys_accuracy_without_plates(gov, bootstrap):
    # Policy sections 9 and 11: the public page of the governance service carries revenue's
    # facility figures (review sample), with no login and no plate.
    from tests.support.reviews import add_reviewed_stays

    stores, sources = the_owning_services(gov, bootstrap)
    try:
        truth = add_reviewed_stays(stores["revenue"], stays=8)
        gov.client.app.state.release_clients = lambda: dict(sources)
        page = gov.client.get("/public/accuracy")
        assert page.status_code == 200, page.text
        (garage,) = page.json()["facilities"]
        # 6 stays confirmed or corrected (2 of them corrected: stays 0 and 4), both passes each.
        assert garage["perfect_read"]["trials"] == len(truth) == 12 and garage["perfect_read"]["right"] == 8
        assert not any(plate in page.text for plate in truth.values())
        # The revenue service gone: the page says so rather than publishing nothing.
        gov.client.app.state.release_clients = lambda: {"revenue": httpx.Client(base_url="http://127.0.0.1:1")}
        down = gov.client.get("/public/accuracy")
        assert down.status_code == 503 and "does not answer" in down.text
    finally:
        for store in stores.values():
            store.close()
