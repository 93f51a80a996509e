"""The console in headless Chromium (issue 17): one login for every role, the one-time password
changed at first login, each role's pages with live data, a page and an API a role may not use
refused and audited, logout. The governance and occupancy services run as processes of their own
on the suite's broker, each as its own Kafka principal; screenshots go to artifacts/."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from confluent_kafka import Producer

from alpr.auth import issue_token
from alpr.contracts.registry import Topic, encode
from alpr.kafka.config import producer_config
from alpr.kafka.topics import apply_topics
from alpr.net import free_port
from alpr_app.demo.stack import ServiceProcess
from services.audit.passwords import hash_password
from services.audit.registry import UserRegistry
from services.audit.settings import AuditSettings
from services.occupancy.traffic import vehicle
from tests.support.browser import Page, require_chromium, start_chromium
from tests.support.governance import PASSWORD, add_user
from tests.support.kafka import principal_env, suite_security_env
from tests.support.waiting import deadline_loop, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
SECRET = "c" * 40
CAMERAS = """
facilities:
  - {facility_id: garage-a, name: Garage A, capacity: 10}
cameras:
  - {camera_id: cam-a-in, facility_id: garage-a, lane: L1, direction: entry, upload_token_sha256: 5b1c1c22ba4df01bc43113712e2c28ec7ea1a2c26befb53440dc969658950563}
  - {camera_id: cam-a-out, facility_id: garage-a, lane: L2, direction: exit}
"""
NEW_PASSWORD = "Lantern-Orbit-7731"
TARIFF_ZONE = "America/Los_Angeles"  # infra/tariff.demo.yaml: the day a stay belongs to


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


@pytest.fixture
def stack(chromium, bootstrap, unique, tmp_path):
    """Governance (with the console) and occupancy as processes, on fresh prefixed topics."""
    prefix = f"test.{unique}."
    apply_topics(bootstrap, prefix=prefix)
    base = {k: v for k, v in os.environ.items() if not k.startswith("ALPR_")}
    base.update(
        {
            "ALPR_ENVIRONMENT": "test",
            "ALPR_KAFKA_BOOTSTRAP": bootstrap,
            "ALPR_TOPIC_PREFIX": prefix,
            "ALPR_AUTH_SECRET": SECRET,
            "ALPR_LOG_LEVEL": "WARNING",
        }
    )
    ports = {"ingest": free_port(), "occupancy": free_port(), "revenue": free_port(), "audit": free_port()}
    cameras = tmp_path / "cameras.yaml"
    cameras.write_text(CAMERAS)
    gov_dir = tmp_path / "audit"
    registry = UserRegistry(AuditSettings(data_dir=gov_dir).governance_db())
    for user, role, once in [
        ("olive", "operations", True),
        ("erin", "enforcement", False),
        ("fiona", "finance", False),
        ("ruth", "reviewer", False),
        ("pat", "parking_management", False),
        ("paula", "parking_management", False),
        ("audrey", "auditor", False),
        ("adam", "admin", False),
    ]:
        add_user(registry, user, role)  # authorized in writing and trained (policy section 5)
        registry.set_password(user, hash_password(PASSWORD), must_change=once)
    registry.close()
    own = {  # each service's own settings, beyond what every one of them gets (below)
        "ingest": {},  # upload cameras only: its camera health is what the operations page shows
        "occupancy": {
            # Heartbeats rarer than the console's stale threshold: a quiet stream shows the warning.
            "ALPR_OCCUPANCY_SSE_HEARTBEAT_S": "60",
            "ALPR_OCCUPANCY_NO_PLATE_MIN_READS": "2",
        },
        "revenue": {
            "ALPR_REVENUE_REKEY_PARTITIONS": "2",
            "ALPR_REVENUE_SESSION_TIMEOUT_S": "6",
            "ALPR_REVENUE_IDLE_LAG_S": "2",
            "ALPR_REVENUE_PAYMENT_LATE_MIN": "0",  # an unpaid stay is decided at its exit
        },
        "audit": {
            "ALPR_AUDIT_CONSOLE_STALE_AFTER_S": "2",
            "ALPR_AUDIT_CONSOLE_SOURCES": json.dumps(
                {name: f"http://127.0.0.1:{ports[name]}" for name in ("ingest", "occupancy", "revenue")}
            ),
        },
    }
    envs = {
        name: {
            **base,
            **(principal_env(name, prefix) or suite_security_env()),  # its own Kafka principal
            "ALPR_DATA_DIR": str(gov_dir if name == "audit" else tmp_path / name),
            "ALPR_CAMERAS_FILE": str(cameras),
            f"ALPR_{name.upper()}_HTTP_PORT": str(ports[name]),
            **extra,
        }
        for name, extra in own.items()
    }
    procs = {
        name: ServiceProcess.spawn(name, [name, "serve"], envs[name], ports[name], tmp_path / f"{name}.log", REPO)
        for name in ("ingest", "occupancy", "revenue", "audit")
    }
    try:
        for p in procs.values():
            p.wait_healthy(120)
        producer = Producer(producer_config(bootstrap, "console-tests"))
        yield type("Stack", (), {"procs": procs, "prefix": prefix, "producer": producer})
    finally:
        for p in procs.values():
            p.kill()


def _send(stack, reads) -> None:
    for r in reads:
        stack.producer.produce(Topic.READS.on(stack.prefix), key=r.facility_id, value=encode(r))
    assert stack.producer.flush(30) == 0


class Console:
    """The console tab: log in, wait for a page, keyboard input."""

    def __init__(self, page: Page, url: str) -> None:
        self.page, self.url = page, url

    async def at(self, path: str, timeout: float = 20) -> None:
        """Until the tab shows `path` loaded (a navigation replaces the page's context, so this
        asks afresh each time instead of waiting inside the page)."""
        for _ in deadline_loop(timeout, f"the console at {path}"):
            try:
                if await self.page.eval("location.pathname + ' ' + document.readyState") == f"{path} complete":
                    return
            except RuntimeError:
                pass  # the context went away mid-navigation

    async def type(self, selector: str, text: str) -> None:
        await self.page.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.page.call("Input.insertText", text=text)

    async def enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.page.call(
                "Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13, text="\r"
            )

    async def assert_labelled(self) -> None:
        """Every field of the page shown has a label (what a screen reader and the keyboard need)."""
        unlabelled = await self.page.eval(
            "[...document.querySelectorAll('section.shown input, section.shown select')]"
            ".filter(e => e.labels.length === 0).map(e => e.name)"
        )
        assert unlabelled == [], f"fields without a label: {unlabelled}"

    async def log_out(self) -> None:
        await self.page.eval("document.querySelector('#logout').click()")
        await self.at("/console/login")

    async def log_in(self, user: str, password: str) -> None:
        await self.page.call("Page.navigate", url=f"{self.url}/console/")
        await self.at("/console/login")  # nothing is served before login
        await self.type("#username", user)
        await self.type("#password", password)
        await self.enter()  # the keyboard alone submits the form
        await self.at("/console/")


def _stay(revenue: ServiceProcess, plate: str, day) -> str | None:
    """The session id of `plate`'s decided stay (what a citation names), from revenue's API."""
    headers = {"Authorization": f"Bearer {issue_token(SECRET, 'test-finance', 'finance')}"}
    r = httpx.get(f"{revenue.url}/v1/revenue/matches", params={"day": day.isoformat()}, headers=headers, timeout=10)
    return next((m["session_id"] for m in r.json()["matches"] if m["plate"] == plate), None) if r.is_success else None


def test_each_role_logs_in_sees_its_pages_live_and_nothing_else(stack, bootstrap, tmp_path):
    audit, occupancy, revenue = stack.procs["audit"], stack.procs["occupancy"], stack.procs["revenue"]
    now = datetime.now(UTC)
    # A stay belongs to its entry's local day: near midnight in the tariff's zone, not today's.
    day = (now - timedelta(minutes=50)).astimezone(ZoneInfo(TARIFF_ZONE)).date()
    # In capture order, as cameras send them. A stay of 40 minutes (past the 15 minutes' grace),
    # unpaid: a match for finance, evidence for an appeal; then a vehicle that stays.
    _send(stack, vehicle("garage-a", "L1", "entry", now - timedelta(minutes=50), "5CAR777"))
    _send(stack, vehicle("garage-a", "L2", "exit", now - timedelta(minutes=10), "5CAR777"))
    _send(stack, vehicle("garage-a", "L1", "entry", now - timedelta(minutes=3), "8ABC123"))
    artifacts = REPO / "artifacts" / "console"
    chromium, port = start_chromium(tmp_path / "profile")
    # Before login: the pages redirect, the API proxy refuses, the login page is labelled.
    r = httpx.get(f"{audit.url}/console/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert (
        httpx.get(f"{audit.url}/console/api/occupancy/v1/facilities", headers={"X-ALPR-Console": "1"}).status_code
        == 401
    )

    once_holder: list[str] = []

    async def drive() -> None:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            targets = await (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
            target = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                await page.call("Page.enable")
                console = Console(page, audit.url)

                # Operations, first login: the one-time password must be changed before anything else.
                await console.log_in("olive", PASSWORD)
                await page.wait_for("document.body.dataset.page === 'password'", 10, "the password page")
                await console.assert_labelled()
                await console.type("#password-form [name=current]", PASSWORD)
                await console.type("#password-form [name=new1]", NEW_PASSWORD)
                await console.type("#password-form [name=new2]", NEW_PASSWORD)
                await console.enter()
                await page.wait_for("document.body.dataset.page === 'operations'", 15, "the operations page")
                await console.assert_labelled()
                nav = await page.eval("[...document.querySelectorAll('nav a')].map(a => a.textContent)")
                assert nav == ["Operations"], nav
                cell = "document.querySelector('#facilities tr[data-facility=\"garage-a\"] td:nth-child(2)')"
                await page.wait_for(f"{cell} && {cell}.textContent === '1'", 30, "garage-a at 1")
                await page.wait_for(
                    "[...document.querySelectorAll('#sources tbody tr')].some(tr => "
                    "tr.children[0].textContent === 'cam-a-in' && tr.children[1].textContent === 'upload')",
                    15,
                    "the camera health of ingest",
                )
                assert await page.eval("document.querySelector('#expiry').textContent.startsWith('session ends in')")
                # Live: a second vehicle arrives while the page is open.
                _send(stack, vehicle("garage-a", "L1", "entry", now - timedelta(minutes=1), "7XYZ999"))
                await page.wait_for(f"{cell}.textContent === '2'", 30, "garage-a at 2, live")
                # A count adjusted with its reason, from the keyboard.
                await page.eval("document.querySelector('#adjust-form [name=occupied]').value = ''")
                await console.type("#adjust-form [name=occupied]", "5")
                await console.type("#adjust-form [name=note]", "walked the deck")
                await console.enter()
                await page.wait_for(
                    "document.querySelector('#adjust-status').textContent.includes('set to 5 by olive')",
                    15,
                    "the adjustment",
                )
                await page.wait_for(f"{cell}.textContent === '5'", 30, "garage-a at 5")
                await page.wait_for(
                    "document.querySelector('#chart path[data-series=\"garage-a\"]') !== null", 10, "the chart"
                )
                await page.screenshot(artifacts / "operations.png")
                # Nothing heard for longer than the threshold (2 s; heartbeats every 60 s): the warning.
                await page.wait_for("document.body.dataset.stale === 'true'", 15, "the stale-data warning")
                assert "Stale data" in await page.eval("document.querySelector('#stale.shown').textContent")
                await page.screenshot(artifacts / "operations-stale.png")
                # No audit page for operations, and its API refuses the role (403, audited).
                assert await page.eval("document.querySelector('#page-audit') === null")
                refused = await page.eval(
                    "fetch('/v1/audit/events', {headers: {'X-ALPR-Console': '1'}}).then(r => r.status)"
                )
                assert refused == 403
                # Without the console header the cookie is not a login (no cross-site requests).
                assert await page.eval("fetch('/v1/audit/events').then(r => r.status)") == 401
                await console.log_out()
                assert "logged out" in await page.eval("document.querySelector('#error').textContent")
                await page.call("Page.navigate", url=f"{audit.url}/console/#operations")
                await console.at("/console/login")  # the session is gone

                # Enforcement: the plate search states its purpose, the crop is shown, the evidence
                # package of the stay is downloaded for an appeal.
                session_id = wait_for(
                    lambda: _stay(revenue, "5CAR777", day), 180, "the stay of 5CAR777 decided"
                )  # slow under CI load
                await console.log_in("erin", PASSWORD)  # lands on the enforcement page
                await page.wait_for("document.body.dataset.page === 'enforcement'", 15, "the enforcement page")
                await console.assert_labelled()
                assert await page.eval("[...document.querySelectorAll('nav a')].map(a => a.textContent)") == [
                    "Operations",
                    "Enforcement",
                ]
                # Unpaid on a read below the verified confidence: no citation, the stay waits in review.
                await page.wait_for(
                    "[...document.querySelectorAll('#reviews tbody tr')].some(tr => "
                    "tr.children[1].textContent === '5CAR777')",
                    15,
                    "5CAR777 in the review queue",
                )
                await page.wait_for("document.querySelector('#violations tbody tr') !== null", 15, "the violations")
                assert "5CAR777" not in await page.eval("document.querySelector('#violations').textContent")
                await console.type("#search-form [name=plate]", "5CAR777")
                await page.eval("document.querySelector('#search-form [name=purpose]').value = 'enforcement'")
                await console.type("#search-form [name=case]", "CIT-2026-0042")
                await console.enter()
                await page.wait_for(
                    "[...document.querySelectorAll('#passes tbody tr')].filter(tr => "
                    "tr.children[3].textContent === '5CAR777').length === 2",
                    30,
                    "the entry and exit passes of 5CAR777",
                )
                await page.eval("document.querySelector('#passes tbody button').click()")
                await page.wait_for("document.querySelector('#passes img.crop') !== null", 15, "a crop")
                crop = "document.querySelector('#passes img.crop')"
                assert await page.eval(f"{crop}.decode().then(() => {crop}.naturalWidth)") > 0  # a real JPEG
                await console.type("#evidence-form [name=session_id]", session_id)
                await page.eval("document.querySelector('#evidence-form [name=purpose]').value = 'appeal'")
                await console.type("#evidence-form [name=case]", "TC-2026-117")
                await console.enter()
                await page.wait_for(
                    "document.querySelector('#evidence-status').textContent.includes('SHA-256')", 30, "the package"
                )
                # The browser saved it, under its own home (tests.support.browser), not the user's.
                saved = tmp_path / "profile" / "home" / "Downloads"
                wait_for(lambda: list(saved.glob("evidence-*.zip")) or None, 30, "the evidence package saved")
                await page.screenshot(artifacts / "enforcement.png")
                await console.log_out()

                # A reviewer opens the stay's task (crops, the vehicle in view) and confirms the read.
                await console.log_in("ruth", PASSWORD)
                await page.wait_for("document.body.dataset.page === 'enforcement'", 15, "the review page")
                await console.assert_labelled()
                assert await page.eval("document.querySelector('#search-form') === null")  # no plate search
                opened = "document.querySelector('#reviews button[aria-label=\"open the review of 5CAR777\"]')"
                await page.wait_for(f"{opened} !== null", 15, "the task of 5CAR777")
                await page.eval(f"{opened}.click()")
                await page.wait_for(
                    "document.querySelectorAll('#task-passes img.crop').length === 2 "
                    "&& document.querySelectorAll('#task-passes img.context').length === 2",
                    15,
                    "the entry and exit crops and context frames",
                )
                # A stay (entry and exit) can be split, should its exit crop show another vehicle.
                assert await page.eval("document.querySelector('#decision-form option[value=split]').hidden === false")
                # The first choice is to confirm the machine read; Enter in the note submits it.
                await console.type("#decision-form [name=note]", "plate legible on both crops")
                await console.enter()
                await page.wait_for(
                    "document.querySelector('#decision-status').textContent.includes('decision recorded (confirmed')",
                    15,
                    "the decision",
                )
                await page.wait_for(
                    "[...document.querySelectorAll('#reviews tbody tr')].some(tr => "
                    "tr.children[1].textContent === '5CAR777' && tr.children[3].textContent === 'confirmed' "
                    "&& tr.children[2].textContent.includes('verified confidence'))",
                    30,
                    "the confirmation applied by revenue, the task keeping why it was queued",
                )
                assert await page.eval("document.querySelector('#decision-form').hidden")  # decided: no second decision
                await page.screenshot(artifacts / "review.png")
                await console.log_out()

                # Parking management places a legal hold from its page.
                await console.log_in("pat", PASSWORD)
                await page.eval("location.hash = 'governance'")
                await page.wait_for("document.body.dataset.page === 'governance'", 15, "the holds page")
                await console.assert_labelled()
                await console.type("#hold-form [name=case_ref]", "SUB-2026-9")
                await console.type("#hold-form [name=plates]", "5CAR777")
                await console.enter()
                await page.wait_for(
                    "[...document.querySelectorAll('#holds tbody tr')].some(tr => "
                    "tr.children[2].textContent === 'SUB-2026-9' && tr.children[3].textContent === '5CAR777')",
                    15,
                    "the hold in the list",
                )
                # Parking management sees the recent passes on the operations page, under a stated purpose.
                await page.eval("location.hash = 'operations'")
                await page.wait_for("document.body.dataset.page === 'operations'", 15, "the operations page")
                await page.eval("document.querySelector('#recent-form [name=purpose]').value = 'occupancy'")
                await page.eval("document.querySelector('#recent-form [name=minutes]').focus()")
                await console.enter()
                await page.wait_for(
                    "['8ABC123', '7XYZ999', '5CAR777'].every(plate => [...document.querySelectorAll('#recent tbody tr')]"
                    ".some(tr => tr.children[3].textContent === plate))",
                    15,
                    "the recent passes",
                )
                await page.eval("location.hash = 'governance'")
                await page.wait_for("document.body.dataset.page === 'governance'", 15, "the holds page again")
                # A release request entered by one person ...
                for field, value in [
                    ("agency", "Los Angeles County Sheriff"),
                    ("requester", "Sgt. R. Diaz, Parking Detail"),
                    ("written_request_ref", "LASD-2026-0311"),
                    ("legal_basis", "Stolen vehicle investigation, case 26-114"),
                    ("plates", "5CAR777"),
                ]:
                    await console.type(f"#release-form [name={field}]", value)
                await page.eval("document.querySelector('#release-form [name=agency_is_public]').checked = true")
                await console.enter()
                release = "[...document.querySelectorAll('#releases tbody tr')].find(tr => tr.children[2].textContent === 'LASD-2026-0311')"
                await page.wait_for(f"{release}?.children[4].textContent === 'requested'", 15, "the release request")
                assert await page.eval(f"{release}.querySelector('button') === null")  # not by its own author
                await page.screenshot(artifacts / "holds.png")
                await console.log_out()
                # ... is approved by another, with the reason.
                await console.log_in("paula", PASSWORD)
                await page.eval("location.hash = 'governance'")
                await page.wait_for(f"{release}?.querySelector('button') != null", 15, "the request to decide")
                await page.eval(f"{release}.querySelector('input[name=why]').focus()")
                await console.type("#releases input[name=why]", "written request verified with LASD")
                await page.eval(f"{release}.querySelector('button[data-decision=approve]').click()")
                await page.wait_for(f"{release}?.children[4].textContent === 'approved'", 15, "the approval")
                await console.log_out()

                # Finance: the day's reconciliation and the stay's match.
                await console.log_in("fiona", PASSWORD)
                await page.wait_for("document.body.dataset.page === 'finance'", 15, "the finance page")
                await console.assert_labelled()
                await page.eval(
                    f"document.querySelector('#finance-form [name=day]').value = {json.dumps(day.isoformat())}"
                )
                await page.eval("document.querySelector('#finance-form button').focus()")
                await console.enter()
                await page.wait_for(
                    "[...document.querySelectorAll('#matches tbody tr')].some(tr => "
                    "tr.children[2].textContent === '5CAR777' && tr.children[3].textContent === 'unpaid')",
                    30,
                    "the unpaid match of 5CAR777",
                )
                assert (
                    await page.eval("document.querySelector('#reconciliation tbody tr td').textContent") == "garage-a"
                )
                await page.screenshot(artifacts / "finance.png")
                await console.log_out()

                # The auditor: the audit page only, and the operator's refusal is on the trail.
                await console.log_in("audrey", PASSWORD)
                await page.wait_for("document.body.dataset.page === 'audit'", 15, "the audit page")
                await console.assert_labelled()
                assert await page.eval("[...document.querySelectorAll('nav a')].map(a => a.textContent)") == [
                    "Audit trail"
                ]
                await console.type("#audit-form [name=user]", "olive")
                await page.eval("document.querySelector('#audit-form [name=outcome]').value = 'denied'")
                await page.eval("document.querySelector('#audit-form button').focus()")
                await console.enter()
                await page.wait_for(
                    "[...document.querySelectorAll('#events tbody tr')].some(tr => "
                    "tr.children[1].textContent === 'olive' && tr.children[4].textContent === 'audit.query' "
                    "&& tr.children[9].textContent.includes('lacks audit.read'))",
                    30,
                    "olive's refused audit query on the trail",
                )
                # Every data request's purpose is on the trail: the appeal's download, with its case.
                await page.eval("document.querySelector('#audit-form').reset()")
                await page.eval("document.querySelector('#audit-form [name=purpose]').value = 'appeal'")
                await page.eval("document.querySelector('#audit-form button').focus()")
                await console.enter()
                await page.wait_for(
                    "[...document.querySelectorAll('#events tbody tr')].some(tr => "
                    "tr.children[1].textContent === 'erin' && tr.children[4].textContent === 'evidence.export' "
                    "&& tr.children[7].textContent === 'TC-2026-117')",
                    30,
                    "erin's evidence download for the appeal on the trail",
                )
                await page.screenshot(artifacts / "audit.png")
                await console.log_out()

                # The administrator: the users, with who must still change a password.
                await console.log_in("adam", PASSWORD)
                await page.wait_for("document.body.dataset.page === 'admin'", 15, "the administration page")
                await console.assert_labelled()
                await page.wait_for(
                    "[...document.querySelectorAll('#users tbody tr')].some(tr => tr.children[0].textContent === 'olive'"
                    " && tr.children[5].textContent === 'no')",
                    15,
                    "olive's changed password in the user list",
                )
                # Each user's written authorization and training, from their records (policy section 5).
                await page.wait_for(
                    "[...document.querySelectorAll('#users tbody tr')].every(tr => "
                    "tr.children[8].textContent.startsWith('AUTH-') && /^\\d{4}-\\d\\d-\\d\\d/.test(tr.children[9].textContent))",
                    15,
                    "the authorizations and training of every user",
                )
                # A new user, authorized in writing and trained, from the page; the one-time password shown once.
                await console.type("#user-form [name=username]", "newbie")
                await console.type("#user-form [name=full_name]", "Nora Newbie")
                await page.eval("document.querySelector('#user-form [name=role]').value = 'finance'")
                await console.enter()
                await page.wait_for(
                    "document.querySelector('#user-status').textContent.includes('newbie created; one-time password: ')",
                    15,
                    "the new user",
                )
                once_holder.append(
                    (await page.eval("document.querySelector('#user-status').textContent")).rsplit(": ", 1)[1]
                )
                await page.wait_for(
                    "[...document.querySelectorAll('#authorization-form option')].some(o => o.value === 'newbie')",
                    15,
                    "newbie listed",
                )
                await page.eval("document.querySelector('#authorization-form [name=username]').value = 'newbie'")
                await page.eval(
                    "document.querySelector('#authorization-form [name=authorized_on]').valueAsDate = new Date()"
                )
                await console.type("#authorization-form [name=authorized_by]", "Director, Parking Management")
                await console.type("#authorization-form [name=document_ref]", "AUTH-newbie")
                await console.enter()
                await page.wait_for(
                    "document.querySelector('#records-status').textContent === 'authorization recorded for newbie'",
                    15,
                    "the authorization",
                )
                await page.eval("document.querySelector('#training-form [name=username]').value = 'newbie'")
                await page.eval("document.querySelector('#training-form [name=completed_on]').valueAsDate = new Date()")
                soon = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
                await page.eval(f"document.querySelector('#training-form [name=expires_on]').value = '{soon}'")
                await console.type("#training-form [name=course]", "ALPR access and privacy")
                await console.enter()
                await page.wait_for(
                    "[...document.querySelectorAll('#users tbody tr')].some(tr => tr.children[0].textContent === 'newbie'"
                    " && tr.children[9].textContent.includes('ends within 30 days'))",
                    15,
                    "newbie's training marked as ending soon",
                )
                await page.screenshot(artifacts / "admin.png")

    try:
        asyncio.run(drive())
    finally:
        chromium.terminate()
        chromium.wait(10)
    # The old password is gone: olive logs in with hers only.
    login = httpx.post(f"{audit.url}/v1/auth/login", json={"username": "olive", "password": PASSWORD})
    assert login.status_code == 401
    assert httpx.post(f"{audit.url}/v1/auth/login", json={"username": "olive", "password": NEW_PASSWORD}).is_success
    # The user made on the page logs in with its one-time password, which must then be changed.
    first = httpx.post(f"{audit.url}/v1/auth/login", json={"username": "newbie", "password": once_holder[0]})
    assert first.status_code == 200 and first.json()["must_change_password"] is True
    assert occupancy.proc.poll() is None and audit.proc.poll() is None, sys.stderr
