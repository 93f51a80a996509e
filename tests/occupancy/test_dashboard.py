"""The operations-center dashboard in headless Chromium: live numbers over SSE, the chart of
the day, and the stale-data warning when updates stop. Driven over the DevTools protocol."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.occupancy.traffic import vehicle
from tests.occupancy.conftest import REPO, SECRET
from tests.support.waiting import deadline_loop

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One Chromium tab over the DevTools protocol (aiohttp's websocket client, a faust dependency)."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, method: str, **params):
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = json.loads((await self.ws.receive()).data)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    async def eval(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float, what: str):
        """The first truthy value of `expression`, judged by the page itself on every DOM change
        (a MutationObserver): no polling from here. Every condition waited on is in the DOM."""
        value = await self.eval(f"""new Promise(resolve => {{
            const test = () => {{ try {{ return ({expression}); }} catch (e) {{ return false; }} }};
            const first = test();
            if (first) return resolve(first);
            const done = v => {{ observer.disconnect(); clearTimeout(timer); resolve(v); }};
            const observer = new MutationObserver(() => {{ const v = test(); if (v) done(v); }});
            observer.observe(document.documentElement,
                             {{subtree: true, childList: true, characterData: true, attributes: true}});
            const timer = setTimeout(() => done(false), {int(timeout * 1000)});
        }})""")
        if value:
            return value
        html = await self.eval("document.body.outerHTML")
        pytest.fail(f"timed out after {timeout}s waiting for {what}; page: {html[:1500]}")

    async def screenshot(self, *paths: Path) -> None:
        data = base64.b64decode((await self.call("Page.captureScreenshot", format="png"))["data"])
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def start_chromium(profile: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1280,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port_file = profile / "DevToolsActivePort"
    for _ in deadline_loop(30, "Chromium's DevTools port"):
        if proc.poll() is not None:
            pytest.fail(f"chromium exited with {proc.returncode}")
        if port_file.exists() and port_file.read_text().strip():
            return proc, int(port_file.read_text().splitlines()[0])
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def chromium_installed() -> str:
    """A developer without Chromium skips this test; CI never does: a skip there would hide that
    the dashboard was not checked. (Module scope and first in the arguments: decided before the
    broker topics and the service are set up.)"""
    if CHROMIUM is None:
        reason = "chromium is not installed: run infra/install-chromium.sh (Debian package 'chromium')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


def test_dashboard_updates_live_draws_the_day_and_warns_when_stale(
    chromium_installed, kafka, service_factory, tmp_path
):
    from alpr.auth import issue_token

    service = service_factory(ALPR_OCCUPANCY_DASHBOARD_STALE_AFTER_S="2", ALPR_OCCUPANCY_SSE_HEARTBEAT_S="60").start()
    now = datetime.now(UTC)
    kafka.send_reads(vehicle("garage-a", "L1", "entry", now - timedelta(minutes=5), "8ABC123"))
    kafka.wait_consumed(service.group)
    token = issue_token(SECRET, "shift-lead", "operations")
    artifacts = REPO / "artifacts"
    chromium, port = start_chromium(tmp_path / "profile")

    async def drive() -> None:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            targets = await (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
            page_target = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(page_target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                await page.call("Page.enable")
                await page.call("Page.navigate", url=f"{service.url}/dashboard#token={token}")
                card = "document.querySelector('[data-facility=\"garage-a\"] .occupied')"
                await page.wait_for(f"{card} && {card}.textContent === '1'", 20, "garage-a at 1")
                assert await page.eval("location.hash") == "", "the token must leave the address bar"
                assert await page.eval("sessionStorage.getItem('alpr.occupancy.token') !== null")
                await page.wait_for(
                    "document.querySelector('#chart path[data-series=\"garage-a\"]') !== null", 10, "the chart"
                )
                await page.eval("window.__noReload = true")
                # A second vehicle: the number changes on the open page, without a reload.
                kafka.send_reads(vehicle("garage-a", "L1", "entry", now - timedelta(minutes=1), "7XYZ999"))
                await page.wait_for(f"{card}.textContent === '2'", 20, "garage-a at 2 over SSE")
                assert await page.eval("window.__noReload === true")
                assert (
                    await page.eval("document.querySelector('[data-facility=\"garage-a\"] .available').textContent")
                    == "0"
                )
                assert await page.wait_for("document.body.dataset.stale === 'false'", 5, "a fresh page")
                await page.screenshot(tmp_path / "dashboard-live.png", artifacts / "occupancy-dashboard-live.png")
                # No update for longer than the stale threshold (2 s; heartbeats every 60 s): the warning shows.
                await page.wait_for("document.body.dataset.stale === 'true'", 15, "the stale-data warning")
                await page.screenshot(tmp_path / "dashboard-stale.png", artifacts / "occupancy-dashboard-stale.png")
                dom = await page.eval("document.documentElement.outerHTML")
                (tmp_path / "dashboard.html").write_text(dom)
                (artifacts / "occupancy-dashboard.dom.html").write_text(dom)

    try:
        asyncio.run(drive())
    finally:
        chromium.terminate()
        chromium.wait(10)
    dom = (tmp_path / "dashboard.html").read_text()
    assert 'data-facility="garage-a"' in dom and 'data-facility="garage-b"' in dom
    assert '<span class="big occupied">2</span>' in dom and 'id="stale" role="alert" class="shown"' in dom
    assert "Stale data: no update received for" in dom
    assert (tmp_path / "dashboard-stale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
