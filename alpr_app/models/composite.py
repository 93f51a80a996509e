"""Real plate crops pasted over the plates of real frames: a measuring set for full frames.

The project has real US plate crops (plates-us-ocr-val, AGPL-3.0: measuring only) but no real
US photographs, and real dash-cam photographs (plates-ro-detect, MIT) whose plates have boxes
and no text. Pasting each US crop over the plate of a dash-cam frame, the frame zoomed so that
the US plate is `width` pixels wide where it sits, gives labelled frames (1280x720 by default) with a real
US plate on a real vehicle: what the detector boxes and the reader reads from those boxes can be
measured on real plates at every size, which the crops alone cannot show (docs/benchmarks-
models.md: the project's detector boxes plates 160 px and wider short).

The frame's own plate is painted out first (OpenCV inpainting): a European plate is longer than
a US plate of the same height, and its ends beside the pasted plate are boxed with it. The
pasted plate is not blended or relit, so the seam is sharp: a proxy for photographs, not a
substitute. The set is written in the openalpr format that `alpr eval` reads; it is for
measuring and selecting only, like its source, and never for training.
"""

from __future__ import annotations

import glob
import os
import random
from collections.abc import Callable

from alpr.errors import AlprError
from alpr_app.models.evaluate import load_crops

FRAME_SIZE = (1280, 720)
# Four size bands in turn, so every band has a quarter of the plates.
WIDTH_BANDS = ((70, 110), (110, 170), (170, 260), (260, 420))


def _frames_with_plates(detect_root: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(image path, the widest labelled plate as YOLO cx, cy, w, h) of every frame with a plate."""
    out = []
    for label in sorted(glob.glob(os.path.join(detect_root, "labels", "*", "*.txt"))):
        boxes = []
        for line in open(label):
            parts = line.split()
            if len(parts) == 5:
                cx, cy, bw, bh = (float(v) for v in parts[1:])
                boxes.append((cx, cy, bw, bh))
        image = label.replace(f"{os.sep}labels{os.sep}", f"{os.sep}images{os.sep}")[:-4] + ".jpg"
        if boxes and os.path.exists(image):
            out.append((image, max(boxes, key=lambda b: b[2])))
    return out


def write_composite_set(
    out_dir: str,
    crops_csv: str,
    detect_root: str,
    seed: int = 1,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    size: tuple[int, int] = FRAME_SIZE,
) -> int:
    """Write one frame of `size` (width, height) per labelled crop of `crops_csv` into
    `out_dir`; returns the count. Plate widths are those of `WIDTH_BANDS` in a 1280 px frame,
    scaled with the frame's width (a 1920 px frame gets the same scenes, sharper)."""
    import cv2
    import numpy as np

    rows = load_crops(crops_csv)[:limit] if limit else load_crops(crops_csv)
    frames = _frames_with_plates(detect_root)
    if not frames:
        raise AlprError(f"no frames with labelled plates under {detect_root}/labels/<split>/")
    frame_w, frame_h = size
    if frame_w < 640 or frame_h < 360 or frame_w > 4096 or frame_h > 4096:
        raise AlprError(f"frame size {frame_w}x{frame_h}: 640x360 to 4096x4096")
    scale = frame_w / FRAME_SIZE[0]
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(seed)
    for i, (crop_path, text) in enumerate(rows):
        crop = cv2.imread(crop_path, cv2.IMREAD_COLOR)
        if crop is None:
            raise AlprError(f"cannot read crop image {crop_path}")
        path, (cx, cy, bw, bh) = frames[rng.randrange(len(frames))]
        frame = cv2.imread(path, cv2.IMREAD_COLOR)
        if frame is None:
            raise AlprError(f"cannot read frame {path}")
        h0, w0 = frame.shape[:2]
        mask = np.zeros((h0, w0), np.uint8)
        x0, y0 = (cx - bw / 2) * w0, (cy - bh / 2) * h0
        cv2.rectangle(mask, (int(x0 - 3), int(y0 - 3)), (int(x0 + bw * w0 + 3), int(y0 + bh * h0 + 3)), 255, -1)
        frame = cv2.inpaint(frame, mask, 5, cv2.INPAINT_TELEA)
        lo, hi = WIDTH_BANDS[i % len(WIDTH_BANDS)]
        width = min(round(rng.randint(lo, hi) * scale), frame_w - 1)
        # Zoomed so the frame's plate is as wide as the pasted one: a nearer vehicle, never a
        # smaller frame (a small US plate then sits on a larger car, which is fine for boxes).
        zoom = max(1.0, width / (bw * w0), frame_w / w0, frame_h / h0)
        big = cv2.resize(frame, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR)
        px, py = cx * w0 * zoom, cy * h0 * zoom
        left = int(min(max(0, px - frame_w / 2 + rng.randint(-300, 300) * scale), big.shape[1] - frame_w))
        top = int(min(max(0, py - frame_h / 2 + rng.randint(-150, 150) * scale), big.shape[0] - frame_h))
        view = big[top : top + frame_h, left : left + frame_w].copy()
        height = round(crop.shape[0] * width / crop.shape[1])
        if height >= frame_h:
            raise AlprError(f"crop {crop_path} is too tall for its width ({crop.shape[1]}x{crop.shape[0]})")
        plate = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
        x = min(max(0, int(px - left - width / 2)), frame_w - width)
        y = min(max(0, int(py - top - height / 2)), frame_h - height)
        view[y : y + height, x : x + width] = plate
        name = f"composite-{i:05d}.jpg"
        cv2.imwrite(os.path.join(out_dir, name), view, [cv2.IMWRITE_JPEG_QUALITY, 90])
        with open(os.path.join(out_dir, f"composite-{i:05d}.txt"), "w") as f:
            f.write(f"{name}\t{x}\t{y}\t{width}\t{height}\t{text}\n")
        if progress is not None:
            progress(i + 1, len(rows))
    return len(rows)
