"""Transparency (policy section 11): the published policy, aggregate statistics and the
accuracy the system achieves (section 9), no login.

Nothing here identifies a vehicle: counts by month, action and outcome; each facility's
capture and perfect-read rates. The rates are revenue's (`/public/accuracy`, measured on its
review sample): this page passes on what that service publishes, from the same
`ALPR_AUDIT_RELEASE_SOURCES` address the releases use, so the public sees one page.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse

from services.audit.deps import StoreDep

router = APIRouter(prefix="/public", tags=["transparency"])


@router.get("/policy", response_class=PlainTextResponse)
def policy(request: Request) -> str:
    path = request.app.state.settings.policy_file
    try:
        return path.read_text()
    except OSError:
        raise HTTPException(503, "the policy document is not available") from None


@router.get("/stats")
def stats(store: StoreDep, request: Request) -> dict:
    rows = store.query(
        f"SELECT toStartOfMonth(at) AS month, action, outcome, count() AS n "
        f"FROM {store.database}.audit_log FINAL GROUP BY month, action, outcome ORDER BY month, action, outcome"
    )
    holds = request.app.state.holds.all()
    return {
        "accesses_by_month": [
            {"month": str(r["month"]), "action": r["action"], "outcome": r["outcome"], "count": int(r["n"])}
            for r in rows
        ],
        "active_legal_holds": sum(1 for h in holds if h["action"] == "place"),
        "retention_days": 365,
    }


@router.get("/accuracy")
def accuracy(request: Request) -> dict:
    """Each facility's capture and perfect-read rates with their 95% intervals (policy section 9)."""
    clients = request.app.state.release_clients()
    try:
        client = clients.get("revenue")
        if client is None:
            raise HTTPException(503, "no revenue service is configured (ALPR_AUDIT_RELEASE_SOURCES)")
        try:
            answer = client.get("/public/accuracy", timeout=5.0)
        except httpx.HTTPError as err:
            raise HTTPException(503, f"the revenue service does not answer ({type(err).__name__})") from None
        if answer.status_code != 200:
            raise HTTPException(503, f"the revenue service answered {answer.status_code}")
        return {"source": "revenue: review sample and passes", **answer.json()}
    finally:
        for c in clients.values():
            c.close()
