"""Plate search over passes (fuzzy: confusable characters and one misread), and a pass's crop.

Searching plates needs `plates.search`; the crop image is a separate route that needs
`images.view`, so a role that may search plates but not view images never receives one.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel

from alpr.plates import confusable_key, normalize
from services.occupancy.deps import ImageView, PlateSearch, StoreDep

router = APIRouter(prefix="/v1/passes", tags=["passes"])


class PassPublic(BaseModel):
    pass_id: str
    facility_id: str
    camera_id: str
    lane: str
    direction: str
    plate: str
    confidence: float
    first_seen: str
    last_seen: str
    read_count: int
    best_read_id: str
    has_crop: bool


class PassesPublic(BaseModel):
    count: int
    passes: list[PassPublic]


def _iso(text: str) -> str:
    return text.replace(" ", "T") + "Z"


@router.get("")
def search_passes(
    access: PlateSearch,
    store: StoreDep,
    plate: str = Query(min_length=1, max_length=20, description="Plate as read or typed; spaces and dashes ignored."),
    exact: bool = Query(False, description="Only this exact plate (no confusable or one-character variants)."),
    facility_id: str | None = Query(None, max_length=200),
    time_from: datetime | None = Query(None, alias="from"),
    time_to: datetime | None = Query(None, alias="to"),
    limit: int = Query(100, ge=1, le=1000),
) -> PassesPublic:
    wanted = normalize(plate)
    if not wanted or len(wanted) > 10:
        raise HTTPException(422, "plate must have 1 to 10 letters or digits")
    params = {
        "plate": wanted,
        "key": confusable_key(wanted),
        "limit": limit,
        "facility": facility_id or "",
        "start": time_from or datetime(1970, 1, 1, tzinfo=UTC),
        "end": time_to or datetime(2200, 1, 1, tzinfo=UTC),
    }
    match = (
        "plate = {plate:String}"
        if exact
        # Same key after folding confusables; for 5+ characters also one edit (a misread character).
        else (
            "(plate_key = {key:String} OR (length({key:String}) >= 5 AND length(plate_key) >= 5 "
            "AND editDistance(plate_key, {key:String}) <= 1))"
        )
    )
    passes = _passes(store, f"plate != '' AND {match}", params)
    access.served(
        filters={"plate": wanted, "exact": str(exact).lower(), "facility_id": facility_id},
        plates={wanted, *(p.plate for p in passes)},
        row_count=len(passes),
    )
    return PassesPublic(count=len(passes), passes=passes)


def _passes(store, match: str, params: dict) -> list[PassPublic]:
    """The passes of `match` within the facility and time range of `params`, newest first."""
    rows = store.query(
        "SELECT pass_id, facility_id, camera_id, lane, toString(direction) AS direction, plate, confidence, "
        "toString(first_seen) AS first_seen_text, toString(last_seen) AS last_seen_text, read_count, best_read_id, "
        f"crop_jpeg_b64 != '' AS has_crop FROM {store.database}.passes FINAL "
        f"WHERE {match} AND ({{facility:String}} = '' OR facility_id = {{facility:String}}) "
        "AND first_seen >= {start:DateTime64(3, 'UTC')} AND first_seen < {end:DateTime64(3, 'UTC')} "
        "ORDER BY first_seen DESC LIMIT {limit:UInt32}",
        params,
    )
    return [
        PassPublic(
            **{
                **r,
                "first_seen": _iso(r.pop("first_seen_text")),
                "last_seen": _iso(r.pop("last_seen_text")),
                "has_crop": bool(r["has_crop"]),
            }
        )
        for r in rows
    ]


@router.get("/recent")
def recent_passes(
    access: PlateSearch,
    store: StoreDep,
    facility_id: str | None = Query(None, max_length=200),
    minutes: int = Query(60, ge=1, le=24 * 60, description="How far back."),
    limit: int = Query(50, ge=1, le=500),
) -> PassesPublic:
    """The latest passes of every lane (the operations page's "recent passes"): a query of plates
    like any search, so it needs `plates.search` and states its purpose."""
    now = datetime.now(UTC)
    params = {"limit": limit, "facility": facility_id or "", "start": now - timedelta(minutes=minutes), "end": now}
    passes = _passes(store, "1", params)
    access.served(
        filters={"recent_minutes": str(minutes), "facility_id": facility_id},
        plates={p.plate for p in passes if p.plate},
        row_count=len(passes),
    )
    return PassesPublic(count=len(passes), passes=passes)


@router.get("/{pass_id:path}/crop", response_class=Response)
def pass_crop(access: ImageView, store: StoreDep, pass_id: str) -> Response:
    rows = store.query(
        f"SELECT plate, crop_jpeg_b64 FROM {store.database}.passes FINAL WHERE pass_id = {{id:String}} LIMIT 1",
        {"id": pass_id},
    )
    if not rows or not rows[0]["crop_jpeg_b64"]:
        raise HTTPException(404, "no crop for this pass")
    image = base64.b64decode(rows[0]["crop_jpeg_b64"])
    access.served(filters={"pass_id": pass_id}, plates=[rows[0]["plate"]] if rows[0]["plate"] else [], row_count=1)
    return Response(image, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
