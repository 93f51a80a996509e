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
from collections.abc import Callable, Sequence

from alpr.errors import AlprError
from alpr_app.models.evaluate import load_crops

FRAME_SIZE = (1280, 720)
# Four size bands in turn, so every band has a quarter of the plates.
WIDTH_BANDS = ((70, 110), (110, 170), (170, 260), (260, 420))
# Below this a pasted plate is a few pixels per character: nothing to measure a reader on.
MIN_PLATE_WIDTH = 20


def _frames_with_plates(detect_root: str) -> list[tuple[str, tuple[int, int], tuple[float, float, float, float]]]:
    """(image path, its (width, height), one labelled plate as YOLO cx, cy, w, h) for every
    labelled plate of every frame: a frame with three plates is three entries."""
    from PIL import Image

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
            with Image.open(image) as im:  # the header only
                size = im.size
            out.extend((image, size, b) for b in boxes)
    return out


def _fitting(
    plates: Sequence[tuple[str, tuple[int, int], tuple[float, float, float, float]]],
    width: int,
    frame_size: tuple[int, int],
) -> list[int]:
    """Indexes of the frame plates that a pasted plate `width` px wide covers: those no wider
    than it once their frame is scaled to fill `frame_size` (frames are only ever zoomed
    in), and at least half as wide where any is, so the frame is not zoomed past what its
    pixels hold. Pasted over a wider plate, a small US plate sits in the middle of a European
    plate's recess and inpainted patch, which the detector boxes instead (50-70 px plates: a
    143 px box around a 59 px plate). None fits (narrower than every frame's plate): the
    narrowest."""
    fits, half = [], []
    for i, (_, (w0, h0), (_, _, bw, _)) in enumerate(plates):
        px = bw * w0 * max(1.0, frame_size[0] / w0, frame_size[1] / h0)
        if px <= width:
            fits.append(i)
            if px >= width / 2:
                half.append(i)
    return half or fits or [min(range(len(plates)), key=lambda i: plates[i][2][2] * plates[i][1][0])]


def write_composite_set(
    out_dir: str,
    crops_csv: str,
    detect_root: str,
    seed: int = 1,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    size: tuple[int, int] = FRAME_SIZE,
    widths: Sequence[tuple[int, int]] = WIDTH_BANDS,
) -> int:
    """Write one frame of `size` (width, height) per labelled crop of `crops_csv` into
    `out_dir`; returns the count. Plate widths are drawn from the bands `widths` in turn (px
    in a 1280 px frame, scaled with the frame's width: a 1920 px frame gets the same scenes,
    sharper). One narrow band (`--widths 50-70`) makes a set of small real plates: the crops
    shrunk as a distant vehicle's plate is, where the synthetic sets put the readers' misses."""
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
    for lo, hi in widths:
        if not MIN_PLATE_WIDTH <= lo <= hi or round(hi * scale) >= frame_w:
            raise AlprError(
                f"plate widths {lo}-{hi} px: from {MIN_PLATE_WIDTH} px, low <= high, narrower than the frame"
            )
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(seed)
    for i, (crop_path, text) in enumerate(rows):
        crop = cv2.imread(crop_path, cv2.IMREAD_COLOR)
        if crop is None:
            raise AlprError(f"cannot read crop image {crop_path}")
        lo, hi = widths[i % len(widths)]
        width = min(round(rng.randint(lo, hi) * scale), frame_w - 1)
        choices = _fitting(frames, width, size)
        path, _, (cx, cy, bw, bh) = frames[choices[rng.randrange(len(choices))]]
        frame = cv2.imread(path, cv2.IMREAD_COLOR)
        if frame is None:
            raise AlprError(f"cannot read frame {path}")
        h0, w0 = frame.shape[:2]
        mask = np.zeros((h0, w0), np.uint8)
        x0, y0 = (cx - bw / 2) * w0, (cy - bh / 2) * h0
        cv2.rectangle(mask, (int(x0 - 3), int(y0 - 3)), (int(x0 + bw * w0 + 3), int(y0 + bh * h0 + 3)), 255, -1)
        frame = cv2.inpaint(frame, mask, 5, cv2.INPAINT_TELEA)
        # Zoomed so the frame's plate is as wide as the pasted one (`_fitting` chose a plate no
        # wider): a nearer vehicle, never a smaller frame.
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
