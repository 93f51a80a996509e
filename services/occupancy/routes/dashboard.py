"""The operations-center dashboard: one HTML page, inline CSS and JS, no build step, no CDN.

The page carries no ALPR data: it asks for a bearer token (pasted into its form, or passed as
`/dashboard#token=...`, kept in sessionStorage and removed from the address bar) and then
calls the same audited API as any client: /v1/facilities, each facility's history of the day,
and the live stream (read with fetch, because EventSource cannot send a bearer token).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from services.occupancy.deps import SettingsDep

router = APIRouter(tags=["dashboard"])
PAGE = Path(__file__).resolve().parent.parent / "dashboard.html"


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(settings: SettingsDep) -> HTMLResponse:
    html = PAGE.read_text().replace("__STALE_AFTER_MS__", str(int(settings.dashboard_stale_after_s * 1000)))
    return HTMLResponse(
        html,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:",
        },
    )
