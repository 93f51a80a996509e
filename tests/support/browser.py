"""Headless Chromium driven over the DevTools protocol, for the tests of the pages (the occupancy
dashboard, the console): a tab, conditions judged by the page itself, screenshots."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.waiting import deadline_loop

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
        text = await self.eval("document.body.innerText")  # what a person would see, compactly
        pytest.fail(f"timed out after {timeout}s waiting for {what}; the page shows: {text[:3000]}")

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
        # Chromium saves downloads (the console's evidence package) to ~/Downloads whatever the
        # profile: give it a home inside the profile, so that a test run writes nothing to the
        # user's home directory (a fresh-HOME CI run found the package there).
        env={**os.environ, "HOME": str(profile / "home"), "XDG_DOWNLOAD_DIR": str(profile / "home" / "Downloads")},
    )
    port_file = profile / "DevToolsActivePort"
    for _ in deadline_loop(30, "Chromium's DevTools port"):
        if proc.poll() is not None:
            pytest.fail(f"chromium exited with {proc.returncode}")
        if port_file.exists() and port_file.read_text().strip():
            return proc, int(port_file.read_text().splitlines()[0])
    raise AssertionError("unreachable")


def require_chromium() -> str:
    """A developer without Chromium skips the test; CI never does: a skip there would hide that
    the pages were not checked."""
    if CHROMIUM is None:
        reason = "chromium is not installed: run infra/install-chromium.sh (Debian package 'chromium')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM
