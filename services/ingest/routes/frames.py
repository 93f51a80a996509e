"""`POST /v1/frames`: a camera pushes one JPEG; 201 only after Kafka acknowledged it (services/ingest/main.py has the contract)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import BaseModel

from alpr.cameras import Camera, Registry, parse_time
from alpr.contracts.models import utc_iso
from services.ingest import metrics
from services.ingest.deps import ServiceDep
from services.ingest.frame import BadImage, Frame, FrameTooLarge, check_jpeg, shrink_jpeg
from services.ingest.publisher import QueueFull

log = logging.getLogger(__name__)
router = APIRouter(tags=["frames"])

# A camera clock this far ahead is wrong, and a future capture time would confuse every
# time-ordered consumer downstream (occupancy, sessions).
MAX_FUTURE_SKEW = timedelta(minutes=5)


class FramePublic(BaseModel):
    frame_id: str
    topic: str
    partition: int
    offset: int
    captured_at: str


def refuse(status: int, reason: str, camera_id: str | None, headers: dict | None = None) -> HTTPException:
    metrics.count("upload", "busy" if status == 503 else "rejected")
    log.info("upload refused", extra={"camera": camera_id, "status": status, "reason": reason})
    return HTTPException(status, reason, headers=headers)


@router.post("/v1/frames", status_code=201, response_model=FramePublic)
async def upload_frame(
    request: Request,
    service: ServiceDep,
    x_camera_id: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
    x_captured_at: Annotated[str | None, Header()] = None,
    content_type: Annotated[str | None, Header()] = None,
    content_length: Annotated[int | None, Header()] = None,
) -> FramePublic:
    settings, registry, publisher = service.settings, service.registry, service.publisher
    busy_headers = {"Retry-After": str(settings.upload_retry_after_s)}
    received_at = datetime.now(UTC)
    camera = _authenticate(registry, x_camera_id, authorization, refuse)
    if content_length is not None and content_length > settings.upload_max_bytes:
        raise refuse(
            413,
            f"body of {content_length} bytes exceeds the {settings.upload_max_bytes}-byte limit",
            camera.camera_id,
        )
    if (content_type or "").split(";")[0].strip().lower() != "image/jpeg":
        raise refuse(415, "Content-Type must be image/jpeg", camera.camera_id)
    try:
        captured_at = parse_time(x_captured_at) if x_captured_at else received_at
    except ValueError:
        raise refuse(400, "X-Captured-At must be an RFC 3339 time with a zone", camera.camera_id) from None
    if captured_at > received_at + MAX_FUTURE_SKEW:
        raise refuse(
            400, "X-Captured-At is more than 5 minutes in the future: check the camera's clock", camera.camera_id
        )
    body = await _read_limited(request, settings.upload_max_bytes)
    if body is None:
        raise refuse(413, f"body exceeds the {settings.upload_max_bytes}-byte limit", camera.camera_id)
    if not body:
        raise refuse(400, "empty body: send the JPEG bytes", camera.camera_id)
    try:
        # Decoding costs milliseconds of CPU: keep it off the event loop.
        jpeg = await anyio.to_thread.run_sync(_prepare, body, settings.jpeg_quality, settings.max_frame_bytes)
    except BadImage as err:
        raise refuse(400, str(err), camera.camera_id) from None
    except FrameTooLarge as err:
        raise refuse(413, str(err), camera.camera_id) from None
    frame = Frame(camera, captured_at, jpeg, ingested_at=received_at)
    try:
        delivery = await publisher.publish_confirmed(frame)
    except QueueFull as err:
        raise refuse(503, f"Kafka is not keeping up ({err}); retry later", camera.camera_id, busy_headers) from None
    if not delivery.ok:
        raise HTTPException(503, f"frame not stored: {delivery.error}; retry later", headers=busy_headers)
    return FramePublic(
        frame_id=frame.frame_id,
        topic=publisher.topic,
        partition=delivery.partition,
        offset=delivery.offset,
        captured_at=utc_iso(frame.captured_at),
    )


def _authenticate(registry: Registry, camera_id: str | None, authorization: str | None, refuse) -> Camera:
    if not camera_id:
        raise refuse(400, "X-Camera-Id header is required", None)
    camera = registry.camera(camera_id)
    if camera is None:
        raise refuse(404, f"unknown camera {camera_id[:100]}", None)
    if not camera.accepts_uploads:
        raise refuse(403, f"camera {camera_id} has no upload token configured", camera_id)
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not camera.token_matches(token.strip()):
        raise refuse(401, "missing or wrong camera upload token", camera_id, {"WWW-Authenticate": "Bearer"})
    return camera


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` (chunked uploads carry no length)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _prepare(body: bytes, quality: int, max_bytes: int) -> bytes:
    check_jpeg(body)
    return shrink_jpeg(body, quality, max_bytes)
