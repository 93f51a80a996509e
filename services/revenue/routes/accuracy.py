"""Accuracy per camera, live (policy section 9; services/revenue/accuracy.py).

GET /v1/accuracy       each camera's perfect-read and capture rates with their 95% intervals (OCCUPANCY_READ, audited)
GET /public/accuracy   the transparency page's facility-level figures: no plates, no cameras, no login (section 11)
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Request

from services.revenue.accuracy import facility_figures, measure
from services.revenue.deps import AccuracyRead

router = APIRouter(tags=["accuracy"])


def _measure(request: Request):
    services = request.app.state.services
    window = timedelta(hours=services.settings.accuracy_window_h)
    return measure(services.store, window), window


@router.get("/v1/accuracy")
async def by_camera(request: Request, access: AccuracyRead) -> dict:
    cameras, window = await asyncio.to_thread(_measure, request)
    await asyncio.to_thread(
        access.served, filters={"window_h": str(window / timedelta(hours=1))}, row_count=len(cameras)
    )
    return {"window_hours": window / timedelta(hours=1), "cameras": [c.to_dict() for c in cameras]}


@router.get("/public/accuracy")
async def public(request: Request) -> dict:
    cameras, window = await asyncio.to_thread(_measure, request)
    return {
        "window_hours": window / timedelta(hours=1),
        "method": "perfect reads: a random sample of stays checked by a person; capture: vehicles with a plate found",
        "facilities": facility_figures(cameras),
    }
