"""Legal holds (policy section 10): placed and released by authorized users, published to
alpr.holds.v1 for every data-owning service to apply to its rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from alpr.contracts.models import Hold, Plate
from services.audit.deps import HoldsPlace

router = APIRouter(prefix="/v1/holds", tags=["holds"])


class HoldIn(BaseModel):
    basis: Literal["subpoena", "court_order", "investigation"]
    case_ref: str = Field(min_length=1, max_length=200, description="Subpoena, order or case number.")
    plates: list[Plate] = Field(default_factory=list, max_length=10_000)
    time_from: AwareDatetime | None = None
    time_to: AwareDatetime | None = None

    @model_validator(mode="after")
    def _has_scope(self):
        if not self.plates and not (self.time_from or self.time_to):
            raise ValueError("a hold needs plates and/or a time range; it may not cover everything")
        if self.time_from and self.time_to and self.time_to <= self.time_from:
            raise ValueError("time_to must be after time_from")
        return self


@router.get("")
def list_holds(access: HoldsPlace, request: Request) -> list[dict]:
    holds = request.app.state.holds.all()
    access.served(row_count=len(holds), plates=[p for h in holds for p in h["plates"]])
    return holds


@router.post("", status_code=201)
def place(body: HoldIn, access: HoldsPlace, request: Request) -> dict:
    hold = Hold(
        hold_id=f"hold-{uuid.uuid4().hex[:12]}",
        action="place",
        basis=body.basis,
        case_ref=body.case_ref,
        plates=body.plates,
        time_from=body.time_from,
        time_to=body.time_to,
        by=access.principal.user,
        at=datetime.now(UTC),
    )
    access.served(filters={"case_ref": body.case_ref, "basis": body.basis}, plates=body.plates, row_count=1)
    request.app.state.holds.publish(hold)
    return hold.model_dump(mode="json")


@router.post("/{hold_id}/release")
def release(hold_id: str, access: HoldsPlace, request: Request) -> dict:
    current = request.app.state.holds.get(hold_id)
    if current is None:
        raise HTTPException(404, f"no hold {hold_id}")
    if current.action == "release":
        raise HTTPException(409, f"hold {hold_id} was already released")
    hold = current.model_copy(update={"action": "release", "by": access.principal.user, "at": datetime.now(UTC)})
    access.served(filters={"hold_id": hold_id, "case_ref": current.case_ref}, plates=current.plates, row_count=1)
    request.app.state.holds.publish(hold)
    return hold.model_dump(mode="json")
