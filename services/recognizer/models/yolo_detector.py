"""`PlateDetector` backed by the project's ultralytics YOLO nano weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.recognizer.models.fingerprint import versioned
from services.recognizer.models.protocols import Detection


class YoloPlateDetector:
    """Ultralytics YOLO plate detector; batched predict, FP16 on CUDA.

    Frames go in at full resolution; ultralytics letterboxes them to `imgsz` and maps the
    boxes back, so the reader can cut crops from the sharp original.
    """

    name = "yolov8n-plates"  # replaced per instance by name@weights-hash (fingerprint.versioned)

    def __init__(
        self,
        weights: str,
        device: str = "cpu",
        half: bool | None = None,
        imgsz: int = 512,
        conf: float = 0.25,
        iou: float = 0.5,
        max_det: int = 100,
    ):
        from ultralytics import YOLO

        self.model = YOLO(weights, task="detect")
        self.name = versioned(type(self).name, weights)
        self.device = device
        self.half = device.startswith("cuda") if half is None else half
        self.imgsz, self.conf, self.iou, self.max_det = imgsz, conf, iou, max_det

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not images:
            return []
        results = self.model.predict(
            list(images),
            imgsz=self.imgsz,
            conf=self.conf,
            iou=self.iou,
            device=self.device,
            quantize=16 if self.half else 32,
            max_det=self.max_det,
            verbose=False,
        )
        out: list[list[Detection]] = []
        for img, r in zip(images, results):
            h, w = img.shape[:2]
            dets = []
            for (x0, y0, x1, y1), c in zip(r.boxes.xyxy.cpu().numpy(), r.boxes.conf.cpu().numpy()):
                x0, y0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
                x1, y1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
                if x1 > x0 and y1 > y0:
                    dets.append(Detection((x0, y0, x1 - x0, y1 - y0), float(c)))
            out.append(dets)
        return out

    def warmup(self) -> None:
        self.detect([np.zeros((720, 1280, 3), np.uint8)])
