"""Training the plate detector: ultralytics YOLO nano from its YAML, no downloads.

The training set is synthetic frames (rendered here, deterministic by seed) plus the real
train frames of `plates-ro-detect`; validation is the real val frames. Nothing is fetched:
the model is built from `yolov8n.yaml` (no pretrained weights), YOLO_OFFLINE is set (by `import alpr`, alpr/libstate.py), and
plots/AMP are off because both would try to download (Arial.ttf, a reference model).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

from alpr.errors import AlprError

DETECTOR_FILE = "detector.pt"


@dataclass(frozen=True)
class DetectorTraining:
    """Everything that decides the detector's weights; the model card records these."""

    out_dir: str  # where the finished weights file is copied
    work_dir: str = "/tmp/alpr-train/detector"
    datasets_dir: str = "../shared/datasets"
    synth_images: int = 1600
    seed: int = 1000
    epochs: int = 8
    imgsz: int = 512
    batch: int = 16
    workers: int = 2
    model_yaml: str = "yolov8n.yaml"
    # A second stage starts from trained weights on freshly rendered frames (a new seed),
    # with a one-epoch warm-up instead of ultralytics' three.
    init: str | None = None
    warmup_epochs: float = 3.0


def train_detector(cfg: DetectorTraining) -> str:
    """Render the synthetic split, train, and copy the best weights to `cfg.out_dir`."""
    real = os.path.join(os.path.abspath(cfg.datasets_dir), "plates-ro-detect")
    if not os.path.isdir(os.path.join(real, "images", "train")):
        raise AlprError(f"real detection data not found at {real} (set --datasets or ALPR_DATASETS)")

    from alpr.synth.datasets import write_detection_dataset

    synth = os.path.join(cfg.work_dir, f"synth-{cfg.seed}-{cfg.synth_images}")
    if not os.path.exists(os.path.join(synth, ".complete")):
        t0 = time.time()
        write_detection_dataset(
            synth,
            cfg.synth_images,
            cfg.seed,
            workers=cfg.workers,
            progress=lambda i, n: print(f"synth frames {i}/{n}", flush=True),
        )
        open(os.path.join(synth, ".complete"), "w").close()
        print(f"rendered {cfg.synth_images} frames in {time.time() - t0:.0f}s", flush=True)

    data_yaml = os.path.join(cfg.work_dir, "data.yaml")
    with open(data_yaml, "w") as f:
        f.write(
            f"path: {cfg.work_dir}\n"
            f"train: [{os.path.join(synth, 'images')}, {os.path.join(real, 'images', 'train')}]\n"
            f"val: [{os.path.join(real, 'images', 'val')}]\n"
            "names: {0: plate}\n"
        )

    from ultralytics import YOLO

    if cfg.init and not os.path.exists(cfg.init):
        raise AlprError(f"detector weights {cfg.init} not found")
    model = YOLO(cfg.init or cfg.model_yaml)
    if cfg.init:
        print(f"starting from {cfg.init}", flush=True)
    t0 = time.time()
    model.train(
        data=data_yaml,
        epochs=cfg.epochs,
        imgsz=cfg.imgsz,
        batch=cfg.batch,
        workers=cfg.workers,
        device="cpu",
        seed=cfg.seed,
        deterministic=True,
        amp=False,
        plots=False,
        pretrained=bool(cfg.init),
        project=cfg.work_dir,
        name="run",
        exist_ok=True,
        cache="ram",
        close_mosaic=max(1, cfg.epochs // 4),
        patience=cfg.epochs,
        verbose=True,
        fliplr=0.0,
        warmup_epochs=cfg.warmup_epochs,
    )
    print(f"detector training took {time.time() - t0:.0f}s", flush=True)
    best = os.path.join(cfg.work_dir, "run", "weights", "best.pt")
    os.makedirs(cfg.out_dir, exist_ok=True)
    target = os.path.join(cfg.out_dir, DETECTOR_FILE)
    _strip_to(best, target)
    return target


def _strip_to(src: str, dst: str) -> None:
    """Copy a checkpoint without optimizer state (ultralytics' own strip keeps it loadable)."""
    from ultralytics.utils.torch_utils import strip_optimizer

    tmp = dst + ".tmp"
    shutil.copyfile(src, tmp)
    strip_optimizer(tmp)
    os.replace(tmp, dst)
