"""The project's YOLO plate detector on ONNX Runtime: the same weights, no torch in the replica.

A replica that loads ultralytics and torch for the detector holds about 0.7 GB before it reads
a frame (measured on dev-2c: 846 MB after loading `project-yolo`, 151 MB after loading the
ONNX backends alone), which put the fused replicas above the 1.5 GB a CPU replica may use. This
backend runs the committed `detector.pt` exported to ONNX, with ultralytics' own letterbox
(`auto` padding to the stride, grey 114) and NMS reproduced here, so its boxes are
ultralytics' boxes (a test compares them on synthetic and real frames).

The ONNX file is exported once per weights file, in a child process (so that the replica
itself never imports torch), and cached under `<data dir>/lib/models/` by the weights'
hash; a `detector.onnx` beside the weights (an image built ahead of time) is used as is.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from services.recognizer.models.model_files import sha256
from services.recognizer.models.protocols import Detection

STRIDE = 32
PAD_VALUE = 114


def onnx_for(weights: str | Path) -> Path:
    """The ONNX export of ultralytics weights: beside them, else cached (exported on first use)."""
    from services.recognizer.models.model_files import onnx_export

    return onnx_export(weights, __name__)


def export(weights: str | Path, out: str | Path) -> None:
    """ultralytics' ONNX export (dynamic batch and size, NMS left to `YoloOnnxDetector`).

    It writes next to its input, so the weights are copied to a temporary folder first (the
    committed weights folder stays as it is); the result is moved into place atomically."""
    from ultralytics import YOLO

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / Path(weights).name
        shutil.copy(weights, src)
        produced = YOLO(str(src), task="detect").export(format="onnx", dynamic=True, simplify=False, verbose=False)
        partial = Path(f"{out}.{os.getpid()}.partial")  # replicas starting together export side by side
        shutil.copy(produced, partial)
        os.replace(partial, out)


def letterbox(img: np.ndarray, imgsz: int) -> tuple[np.ndarray, float, float, float]:
    """ultralytics' `LetterBox(auto=True)`: scaled to fit `imgsz`, padded to a stride multiple.

    Returns the padded RGB float32 CHW image in [0, 1], the scale and the left/top padding."""
    import cv2

    h, w = img.shape[:2]
    r = min(imgsz / h, imgsz / w)
    new_w, new_h = int(round(w * r)), int(round(h * r))
    dw, dh = (imgsz - new_w) % STRIDE / 2, (imgsz - new_h) % STRIDE / 2
    if (new_w, new_h) != (w, h):
        img = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    chw = np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) / 255.0
    return chw, r, left, top


class YoloOnnxDetector:
    """`PlateDetector` over the project's YOLO weights exported to ONNX (CPU or CUDA provider)."""

    name = "yolov8n-plates-onnx"  # replaced per instance by name@<hash of the .pt it was exported from>

    def __init__(
        self,
        weights: str | Path,
        device: str = "cpu",
        imgsz: int = 512,
        conf: float = 0.25,
        iou: float = 0.5,
        max_det: int = 100,
        threads: int | None = None,
    ):
        from services.recognizer.models.onnx_models import session

        self.name = f"{type(self).name}@{sha256(weights)[:12]}"
        path = onnx_for(weights)
        self.session = session(path, device, threads)
        self.input = self.session.get_inputs()[0].name
        # On the CPU one frame per run is faster than a stacked batch (dev-2c, 32 frames: 40.6
        # against 46.7 ms/frame; ultralytics on torch 46.3); a GPU wants the batch.
        self.batch = 16 if self.session.get_providers()[0] == "CUDAExecutionProvider" else 1
        self.imgsz, self.conf, self.iou, self.max_det = imgsz, conf, iou, max_det

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        out: list[list[Detection]] = [[] for _ in images]
        # Frames of one size share a letterbox shape and go through the model together.
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, img in enumerate(images):
            by_shape.setdefault(img.shape[:2], []).append(i)
        for same in by_shape.values():
            for start in range(0, len(same), self.batch):
                idx = same[start : start + self.batch]
                boxed = [letterbox(images[i], self.imgsz) for i in idx]
                (pred,) = self.session.run(None, {self.input: np.stack([b[0] for b in boxed])})
                for i, (_, r, left, top), p in zip(idx, boxed, pred):
                    out[i] = self._boxes(p, r, left, top, images[i].shape)
        return out

    def _boxes(self, pred: np.ndarray, r: float, left: float, top: float, shape) -> list[Detection]:
        """[5, N] rows cx, cy, w, h, score (one class) -> NMS'd boxes in frame pixels, best first."""
        scores = pred[4]
        keep = scores > self.conf
        if not keep.any():
            return []
        cx, cy, w, h = pred[0][keep], pred[1][keep], pred[2][keep], pred[3][keep]
        scores = scores[keep]
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        order = np.argsort(-scores, kind="stable")
        chosen = _nms(xyxy[order], self.iou)[: self.max_det]
        H, W = shape[:2]
        dets = []
        for j in order[chosen]:
            x0, y0, x1, y1 = xyxy[j]
            x0, x1 = (x0 - left) / r, (x1 - left) / r
            y0, y1 = (y0 - top) / r, (y1 - top) / r
            x0, y0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
            x1, y1 = min(W, int(np.ceil(x1))), min(H, int(np.ceil(y1)))
            if x1 > x0 and y1 > y0:
                dets.append(Detection((x0, y0, x1 - x0, y1 - y0), float(scores[j])))
        return dets

    def warmup(self) -> None:
        self.detect([np.zeros((720, 1280, 3), np.uint8)])


def _nms(xyxy: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS over boxes sorted best first (torchvision.ops.nms' rule: drop IoU > iou)."""
    x0, y0, x1, y1 = xyxy.T
    area = (x1 - x0) * (y1 - y0)
    alive = np.ones(len(xyxy), bool)
    kept = []
    for i in range(len(xyxy)):
        if not alive[i]:
            continue
        kept.append(i)
        ix = np.clip(np.minimum(x1[i], x1) - np.maximum(x0[i], x0), 0, None)
        iy = np.clip(np.minimum(y1[i], y1) - np.maximum(y0[i], y0), 0, None)
        inter = ix * iy
        alive &= ~(inter / (area[i] + area - inter + 1e-9) > iou)
    return np.array(kept, dtype=int)


if __name__ == "__main__":
    export(sys.argv[1], sys.argv[2])
