"""Writing synthetic sets to disk: YOLO detection data, reader crops, an openalpr-style test set.

Every item `i` of a set with seed `s` is rendered from `np.random.default_rng([s, i])`, so a
set is reproducible item by item, whatever the number of worker processes.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from multiprocessing import get_context

import cv2
import numpy as np

from alpr.synth.scene import CONDITIONS, HARD, TRAIN, Conditions, Scene, render_scene

FRAME_SIZES = ((1280, 720), (1280, 720), (960, 540), (800, 600), (640, 480))


def item_rng(seed: int, index: int) -> np.random.Generator:
    """The generator for item `index` of a set seeded with `seed`."""
    return np.random.default_rng([seed, index])


def _plate_count(rng: np.random.Generator) -> int:
    # Mostly a few vehicles, sometimes a crowded patrol frame.
    r = rng.random()
    if r < 0.08:
        return 0
    if r < 0.85:
        return int(rng.integers(1, 5))
    return int(rng.integers(5, 16))


def detection_scene(seed: int, index: int, conditions: Conditions = TRAIN) -> Scene:
    """The scene for one item of a detection set (frame size and plate count drawn too)."""
    rng = item_rng(seed, index)
    w, h = FRAME_SIZES[int(rng.integers(len(FRAME_SIZES)))]
    return render_scene(rng, w, h, _plate_count(rng), conditions)


def _detection_item(job: tuple[str, int, int]) -> None:
    out_dir, seed, index = job
    scene = detection_scene(seed, index)
    h, w = scene.image.shape[:2]
    name = f"{seed}_{index:06d}"
    cv2.imwrite(os.path.join(out_dir, "images", f"{name}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    with open(os.path.join(out_dir, "labels", f"{name}.txt"), "w") as f:
        for p in scene.plates:
            x, y, bw, bh = p.box
            f.write(f"0 {(x + bw / 2) / w:.6f} {(y + bh / 2) / h:.6f} {bw / w:.6f} {bh / h:.6f}\n")


def write_detection_dataset(
    out_dir: str, n: int, seed: int, workers: int = 1, progress: Callable[[int, int], None] | None = None
) -> str:
    """Write `n` labelled frames as a YOLO split: `out_dir/images/*.jpg`, `out_dir/labels/*.txt`.

    Class 0 is `plate`; boxes are normalized centre/size. Returns `out_dir`.
    """
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "labels"), exist_ok=True)
    _run((_detection_item, [(out_dir, seed, i) for i in range(n)]), workers, progress)
    return out_dir


def plate_crop(
    seed: int, index: int, conditions: Conditions = TRAIN, pad: tuple[float, float] = (-0.03, 0.12)
) -> tuple[np.ndarray, str]:
    """One reader training sample: a plate cut from a small rendered frame, and its text.

    The cut is the true box grown or shrunk on each side by a fraction drawn from `pad`,
    imitating the looseness of detector boxes.
    """
    rng = item_rng(seed, index)
    lo, hi = conditions.plate_width
    pw = int(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    cond = replace(conditions, plate_width=(pw, pw), distractor_signs=(0, 1))
    scene = render_scene(rng, int(pw * 2.6), int(pw * 1.9), 1, cond)
    if not scene.plates:  # cannot happen with this canvas, but never emit an unlabelled crop
        return plate_crop(seed + 7919, index, conditions, pad)
    label = scene.plates[0]
    return crop_box(scene.image, label.box, rng.uniform(*pad, size=4)), label.text


def crop_box(image: np.ndarray, box: tuple[int, int, int, int], pad: np.ndarray | float = 0.06) -> np.ndarray:
    """Cut `box` (x, y, w, h) out of `image`, grown by `pad` (fraction of w/h) per side."""
    x, y, w, h = box
    p = np.broadcast_to(np.asarray(pad, np.float32), (4,))
    H, W = image.shape[:2]
    x0 = int(max(0, np.floor(x - p[0] * w)))
    x1 = int(min(W, np.ceil(x + w + p[1] * w)))
    y0 = int(max(0, np.floor(y - p[2] * h)))
    y1 = int(min(H, np.ceil(y + h + p[3] * h)))
    return image[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]


def _crop_item(job: tuple[str, int, int, str]) -> tuple[str, str]:
    out_dir, seed, index, conditions = job
    crop, text = plate_crop(seed, index, CONDITIONS[conditions])
    rel = os.path.join("crops", f"{seed}_{index:06d}.png")
    cv2.imwrite(os.path.join(out_dir, rel), crop)
    return rel, text


def write_crops_dataset(
    out_dir: str,
    n: int,
    seed: int,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    conditions: str = "train",
) -> str:
    """Write `n` plate crops and `out_dir/labels.csv` (image_path,plate_text; paths relative).

    `conditions` names the degradation ranges (`alpr.synth.scene.CONDITIONS`). Returns the CSV path.
    """
    if conditions not in CONDITIONS:
        raise ValueError(f"unknown conditions {conditions!r} (one of {', '.join(CONDITIONS)})")
    os.makedirs(os.path.join(out_dir, "crops"), exist_ok=True)
    rows = _run((_crop_item, [(out_dir, seed, i, conditions) for i in range(n)]), workers, progress)
    path = os.path.join(out_dir, "labels.csv")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image_path", "plate_text"])
        writer.writerows(rows)
    return path


def _testset_item(job: tuple[str, int, int]) -> None:
    out_dir, seed, index = job
    rng = item_rng(seed, index)
    scene = render_scene(rng, 1280, 720, int(rng.integers(1, 5)), HARD)
    name = f"{index:05d}.jpg"
    cv2.imwrite(os.path.join(out_dir, name), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    with open(os.path.join(out_dir, f"{index:05d}.txt"), "w") as f:
        for p in scene.plates:
            x, y, w, h = p.box
            f.write(f"{name}\t{x}\t{y}\t{w}\t{h}\t{p.text}\n")


def write_openalpr_testset(
    out_dir: str, n: int, seed: int, workers: int = 1, progress: Callable[[int, int], None] | None = None
) -> str:
    """Write a held-out set of 1280x720 frames under the `HARD` conditions, openalpr style.

    Per image `NNNNN.jpg` a `NNNNN.txt` with one line per plate:
    `name<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE` (pixels, top-left corner and size).
    """
    os.makedirs(out_dir, exist_ok=True)
    _run((_testset_item, [(out_dir, seed, i) for i in range(n)]), workers, progress)
    return out_dir


def _run(task: tuple[Callable, list], workers: int, progress: Callable[[int, int], None] | None) -> list:
    fn, jobs = task
    results: list = []
    it: Iterator
    if workers > 1:
        pool = get_context("spawn").Pool(workers)
        it = pool.imap(fn, jobs, chunksize=16)
    else:
        pool = None
        it = map(fn, jobs)
    try:
        for i, r in enumerate(it, 1):
            results.append(r)
            if progress is not None and (i % 200 == 0 or i == len(jobs)):
                progress(i, len(jobs))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return results
