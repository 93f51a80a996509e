"""The review queue (issue #16): list tasks, open one, decide it. Every call is audited.

GET  /v1/reviews?state=queued        the queue, or the decided tasks (state=confirmed|corrected|dismissed|split|all)
GET  /v1/reviews/task?review_id=...  one task: passes with their crops, the payment lookup, and for an exit
                                     that found no entry the vehicles still inside, closest plate first
                                     (REVIEWS_READ + IMAGES_VIEW for crops)
POST /v1/reviews/decisions           confirm, correct, dismiss, or split a stay whose exit was another
                                     vehicle's (REVIEWS_DECIDE); 202 once on the broker
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from alpr.roles import Permission, permissions_of
from services.revenue.decisions import DeskError
from services.revenue.deps import ReviewDecide, ReviewsRead

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])
ID = r"^[A-Za-z0-9._:/#@-]+$"


@router.get("")
async def queue(
    request: Request,
    access: ReviewsRead,
    state: Literal["queued", "confirmed", "corrected", "dismissed", "split", "all"] = Query("queued"),
    facility_id: str | None = Query(None, max_length=100, pattern=ID),
    limit: int = Query(100, ge=1, le=1000),
) -> dict:
    desk = request.app.state.services.desk
    tasks = await asyncio.to_thread(desk.tasks, None if state == "all" else state, facility_id, limit)
    await asyncio.to_thread(
        access.served,
        filters={k: v for k, v in {"state": state, "facility_id": facility_id}.items() if v},
        plates=[t["plate"] for t in tasks if t["plate"]],
        row_count=len(tasks),
    )
    return {"tasks": tasks}


@router.get("/task")
async def task(
    request: Request, access: ReviewsRead, review_id: str = Query(min_length=1, max_length=200, pattern=ID)
) -> dict:
    desk = request.app.state.services.desk
    crops = Permission.IMAGES_VIEW in permissions_of(access.principal.role)
    found = await asyncio.to_thread(desk.task, review_id, crops)
    if found is None:
        raise HTTPException(404, f"no review task {review_id}")
    await asyncio.to_thread(
        access.served,
        filters={"review_id": review_id, "crops": str(crops).lower()},
        # The candidate entries' plates are served too: each is in the access record.
        plates=[found["plate"], *[c["plate"] for c in found.get("candidate_entries", [])]],
        row_count=1,
    )
    return found


class DecisionIn(BaseModel):
    review_id: str = Field(min_length=1, max_length=200, pattern=ID)
    decision: Literal["confirmed", "corrected", "dismissed", "split"]
    plate: str | None = Field(
        None,
        max_length=20,
        description="The plate as the reviewer reads it: corrected, the session's; split, the exit's "
        "(another vehicle's: the entry's plate stands).",
    )
    note: str = Field("", max_length=500)


@router.post("/decisions", status_code=202)
async def decide(body: DecisionIn, request: Request, access: ReviewDecide) -> dict:
    desk = request.app.state.services.desk
    # Audited before anything is published: no record of the decision, no effect (fail closed).
    await asyncio.to_thread(
        access.served,
        filters={
            "review_id": body.review_id,
            "decision": body.decision,
            **({"plate": body.plate} if body.plate else {}),
        },
        row_count=1,
    )
    try:
        d = await asyncio.to_thread(
            desk.decide, body.review_id, body.decision, body.plate, access.principal.user, body.note
        )
    except DeskError as err:
        raise HTTPException(err.status, str(err)) from None
    return d.model_dump(mode="json")
