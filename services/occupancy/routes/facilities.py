"""Facilities, their current occupancy and its history, and manual adjustments (drift corrections)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from services.occupancy.deps import Adjust, BoardDep, FacilityDep, HistoryRead, OccupancyRead, StoreDep, StreamDep

router = APIRouter(prefix="/v1/facilities", tags=["occupancy"])


class FacilityPublic(BaseModel):
    facility_id: str
    name: str
    capacity: int
    occupied: int
    available: int
    as_of: str | None


class FacilitiesPublic(BaseModel):
    count: int
    facilities: list[FacilityPublic]


class HistoryEntryPublic(BaseModel):
    event_id: str
    as_of: str
    occupied: int
    capacity: int
    delta: int
    reason: str
    pass_id: str
    actor: str
    note: str


class HistoryPublic(BaseModel):
    facility_id: str
    count: int
    entries: list[HistoryEntryPublic]


class AdjustmentIn(BaseModel):
    """A manual count of the vehicles in the facility, and why it was taken."""

    occupied: int = Field(ge=0, le=100_000)
    note: str = Field(min_length=3, max_length=500, description="Why: who counted, how (kept in the history).")


class AdjustmentPublic(BaseModel):
    event_id: str
    facility_id: str
    occupied: int
    capacity: int
    available: int
    as_of: str
    actor: str
    note: str


def _public(entry: dict) -> FacilityPublic:
    return FacilityPublic(
        facility_id=entry["facility_id"],
        name=entry.get("name", entry["facility_id"]),
        capacity=entry.get("capacity", 0),
        occupied=entry.get("occupied", 0),
        available=entry.get("available", 0),
        as_of=entry.get("as_of"),
    )


@router.get("")
def list_facilities(access: OccupancyRead, board: BoardDep) -> FacilitiesPublic:
    rows = [_public(e) for e in board.snapshot()]
    access.served(row_count=len(rows))
    return FacilitiesPublic(count=len(rows), facilities=rows)


@router.get("/{facility_id}/occupancy")
def current_occupancy(access: OccupancyRead, facility: FacilityDep, board: BoardDep) -> FacilityPublic:
    entry = _public(board.current[facility.facility_id])
    access.served(filters={"facility_id": facility.facility_id}, row_count=1)
    return entry


@router.get("/{facility_id}/history")
def history(
    access: HistoryRead,
    facility: FacilityDep,
    store: StoreDep,
    time_from: datetime | None = Query(None, alias="from", description="Start (inclusive); default 24 h ago."),
    time_to: datetime | None = Query(None, alias="to", description="End (exclusive); default now + 1 day."),
    limit: int = Query(5000, ge=1, le=100_000),
) -> HistoryPublic:
    now = datetime.now(UTC)
    start = _aware(time_from) if time_from else now - timedelta(days=1)
    end = _aware(time_to) if time_to else now + timedelta(days=1)
    if end <= start:
        raise HTTPException(422, "'to' must be after 'from'")
    rows = store.query(
        f"SELECT event_id, toString(as_of) AS as_of_text, occupied, capacity, delta, toString(reason) AS reason, pass_id, actor, note "
        f"FROM {store.database}.occupancy_history FINAL "
        "WHERE facility_id = {f:String} AND as_of >= {start:DateTime64(3, 'UTC')} AND as_of < {end:DateTime64(3, 'UTC')} "
        "ORDER BY as_of, event_id LIMIT {limit:UInt32}",
        {"f": facility.facility_id, "start": start, "end": end, "limit": limit},
    )
    entries = [HistoryEntryPublic(**{**r, "as_of": r.pop("as_of_text").replace(" ", "T") + "Z"}) for r in rows]
    access.served(
        filters={"facility_id": facility.facility_id, "from": start.isoformat(), "to": end.isoformat()},
        row_count=len(entries),
    )
    return HistoryPublic(facility_id=facility.facility_id, count=len(entries), entries=entries)


@router.post("/{facility_id}/adjustments", status_code=201)
async def adjust(body: AdjustmentIn, access: Adjust, facility: FacilityDep, stream: StreamDep) -> AdjustmentPublic:
    limit = stream.occupancy.limit(facility.facility_id)
    if body.occupied > limit:
        raise HTTPException(422, f"{body.occupied} is above the facility's limit ({limit}: capacity plus tolerance)")
    # Audit first (fail closed): an adjustment nobody can account for must not happen.
    await asyncio.to_thread(
        access.served, filters={"facility_id": facility.facility_id, "occupied": str(body.occupied)}, row_count=1
    )
    event_id = f"{facility.facility_id}:adjustment:{uuid.uuid4().hex}"
    event = await stream.adjust(facility.facility_id, body.occupied, access.principal.user, body.note, event_id)
    return AdjustmentPublic(
        event_id=event.event_id,
        facility_id=event.facility_id,
        occupied=event.occupied,
        capacity=event.capacity,
        available=event.available,
        as_of=event.as_of.isoformat().replace("+00:00", "Z"),
        actor=access.principal.user,
        note=body.note,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
