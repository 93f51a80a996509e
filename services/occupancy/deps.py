"""FastAPI dependencies of the occupancy service, as Annotated aliases (docs/style.md 7)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from alpr.http import Access, Guard, state_dep
from alpr.roles import Permission
from alpr.store import Store
from services.occupancy.board import Board
from services.occupancy.facilities import Facility
from services.occupancy.settings import OccupancySettings
from services.occupancy.stream import OccupancyStream

StoreDep = Annotated[Store, Depends(state_dep("store"))]
BoardDep = Annotated[Board, Depends(state_dep("board"))]
StreamDep = Annotated[OccupancyStream, Depends(state_dep("stream"))]
SettingsDep = Annotated[OccupancySettings, Depends(state_dep("settings"))]

OccupancyRead = Annotated[Access, Depends(Guard(Permission.OCCUPANCY_READ, "occupancy.read"))]
HistoryRead = Annotated[Access, Depends(Guard(Permission.OCCUPANCY_READ, "occupancy.history"))]
LiveRead = Annotated[Access, Depends(Guard(Permission.OCCUPANCY_READ, "occupancy.stream"))]
Adjust = Annotated[Access, Depends(Guard(Permission.OCCUPANCY_ADJUST, "occupancy.adjust"))]
PlateSearch = Annotated[Access, Depends(Guard(Permission.PLATES_SEARCH, "plate.search", purpose=True))]
ImageView = Annotated[Access, Depends(Guard(Permission.IMAGES_VIEW, "image.view", purpose=True))]


def facility_of(request: Request, facility_id: str) -> Facility:
    facility = request.app.state.facilities.get(facility_id)
    if facility is None:
        raise HTTPException(404, f"no facility {facility_id!r}")
    return facility


FacilityDep = Annotated[Facility, Depends(facility_of)]
