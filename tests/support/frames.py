"""Frame messages as ingest publishes them (headers + JPEG), with white boxes where plates would be."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np

from alpr.contracts.models import utc_iso


def frame_message(camera, ms, n_plates, shape=(720, 1280, 3), ext=".jpg"):
    img = np.zeros(shape, np.uint8)
    for i in range(n_plates):
        img[100 + 120 * i : 150 + 120 * i, 100:200] = 255
    ok, buf = cv2.imencode(ext, img)
    at = datetime.fromtimestamp(ms / 1000, UTC)
    headers = {
        "frame_id": f"{camera}:{ms}",
        "camera_id": camera,
        "facility_id": "garage-1",
        "lane": "L1",
        "direction": "entry",
        "captured_at": utc_iso(at),
        "ingested_at": utc_iso(at),
        "content_type": "image/jpeg",
    }
    return buf.tobytes(), [(k, v.encode()) for k, v in headers.items()]
