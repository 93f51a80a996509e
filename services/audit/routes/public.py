"""Transparency (policy section 11): the published policy and aggregate statistics, no login.

Nothing here identifies a vehicle: counts by month, action and outcome only.
"""

from __future__ import annotations

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
