"""Frame messages in, Read messages out: the recognizer's pure parts.

`parse_frame` checks a message of alpr.frames.v1 (contract headers, JPEG bytes) and decodes
it; anything wrong raises, and the consumer moves the message to alpr.frames.dlq with the
reason. `reads_for_frame` turns one frame's plate reads into Read messages with
deterministic ids: '<frame_id>#<box>' per plate, '<frame_id>#-' when nothing was found, so
a redelivered frame produces the same read_ids (idempotent downstream).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np
from confluent_kafka import Message

from alpr.contracts.models import BBox, FrameHeaders, ModelVersions, Read
from alpr.contracts.registry import Topic, decode
from services.recognizer.models.images import decode_image
from services.recognizer.models.protocols import PlateRead

FRAMES = Topic.FRAMES.contract
MAX_CROP_B64 = 200_000


@dataclass
class Frame:
    headers: FrameHeaders
    image: np.ndarray
    message: Message | None = None


def parse_frame(
    value: bytes | None, headers: list[tuple[str, bytes]] | None, max_pixels: int
) -> tuple[FrameHeaders, np.ndarray]:
    meta: FrameHeaders = decode(FRAMES, value, headers)
    if not value:
        raise ValueError("frame has no image bytes")
    return meta, decode_image(value, max_pixels)


def encode_crop(crop: np.ndarray, quality: int) -> str | None:
    if crop.size == 0:
        return None
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return None
    text = base64.b64encode(buf.tobytes()).decode()
    return text if len(text) <= MAX_CROP_B64 else None


def encode_context(image: np.ndarray, width: int, quality: int) -> str | None:
    """The whole frame at `width` pixels (never enlarged), JPEG, base64: the vehicle in view.
    About 20-30 KB of base64 at 480 px and quality 60 for a 1280x720 garage frame; None when
    `width` is 0 or the image is empty or too large to carry."""
    if width <= 0 or image.size == 0:
        return None
    h, w = image.shape[:2]
    if w > width:
        image = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return None
    text = base64.b64encode(buf.tobytes()).decode()
    return text if len(text) <= MAX_CROP_B64 else None


def cut_off(plate: PlateRead, edge_margin_px: int) -> bool:
    """Does the plate's box come within `edge_margin_px` of its frame's border (-1: never)?"""
    return edge_margin_px >= 0 and plate.border_px is not None and plate.border_px <= edge_margin_px


def in_lane(meta: FrameHeaders, plates: list[PlateRead]) -> list[PlateRead]:
    """The plates whose box centre lies inside the camera's region of interest (`meta.roi`;
    on its edge counts as inside; no region: all of them).

    The others are not read at all: a sign on the wall ('PARKING', read in every frame,
    would count as a vehicle at every pass) or a plate on the street behind the lane is not
    the lane's traffic, and the policy limits collection to the facility's vehicles.
    """
    roi = meta.roi_points()
    if not roi:
        return plates
    polygon = np.array(roi, np.float32).reshape(-1, 1, 2)
    return [
        p
        for p in plates
        if cv2.pointPolygonTest(polygon, (p.bbox[0] + p.bbox[2] / 2, p.bbox[1] + p.bbox[3] / 2), False) >= 0
    ]


def reads_for_frame(
    meta: FrameHeaders,
    plates: list[PlateRead],
    models: ModelVersions,
    processed_at: datetime,
    min_confidence: float,
    crop_quality: int,
    min_plate_chars: int = 3,
    edge_margin_px: int = 4,
) -> list[Read]:
    """One frame's Read messages; a frame without plates gets one 'no_plate' record.

    A box within `edge_margin_px` of the frame's border (-1: never) is a plate cut off by
    it, entering or leaving the view: its text is a fragment ('TEMPORAR' of a plate's top
    half, 'G0A' of its bottom), and two frames of the same fragment would make a pass of a
    vehicle that does not exist. It is published as 'unreadable': a box was there, its
    plate was not read. A box read confidently as fewer than `min_plate_chars` characters
    is not a plate (a headlight read as '0', a caption's 'PP'): it is left out, like a box
    the detector never gave. A box without a confident read stays, as 'unreadable'.
    `plates` are those in the camera's region (`in_lane`).
    """
    plates = [
        p
        for p in plates
        if cut_off(p, edge_margin_px)
        or not (p.text and len(p.text) < min_plate_chars and p.confidence >= min_confidence)
    ]
    common = dict(
        frame_id=meta.frame_id,
        camera_id=meta.camera_id,
        facility_id=meta.facility_id,
        lane=meta.lane,
        direction=meta.direction,
        models=models,
        captured_at=meta.captured_at,
        ingested_at=meta.ingested_at,
        processed_at=processed_at,
    )
    if not plates:
        return [
            Read(read_id=f"{meta.frame_id}#-", outcome="no_plate", plate=None, confidence=0.0, box_index=-1, **common)
        ]
    reads = []
    for i, p in enumerate(plates):
        readable = (
            bool(p.text)
            and 1 <= len(p.text) <= 10
            and p.confidence >= min_confidence
            and not cut_off(p, edge_margin_px)
        )
        x, y, w, h = p.bbox
        reads.append(
            Read(
                read_id=f"{meta.frame_id}#{i}",
                outcome="read" if readable else "unreadable",
                plate=p.text if readable else None,
                confidence=round(float(p.confidence), 4) if readable else 0.0,
                char_confidences=[round(float(c), 4) for c in p.char_confidences[:10]] if readable else [],
                detection_confidence=round(float(p.detection_confidence), 4),
                box_index=i,
                bbox=BBox(x=max(0, x), y=max(0, y), w=max(1, w), h=max(1, h)),
                crop_jpeg_b64=encode_crop(p.crop, crop_quality),
                **common,
            )
        )
    return reads
