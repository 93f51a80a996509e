"""Calibrating the readers' confidences for the vote: P(read correct | reader, confidence).

Each reader's own confidence (the CRNN's lowest character probability, the CCT's lowest slot
probability) is mapped through a Platt fit, p = sigmoid(a * logit(c) + b), fitted per reader
on tuning data that no reported figure uses:

* synthetic `HARD` frames of a tuning seed (8001; the test set is 9001), every labelled
  plate found by the project detector, read from each of the recognizer's cuts;
* the plates-ar-ocr crops of the training side of `train_reader.real_split` (the held-out
  side is a reported set; plates-us-ocr-val is for measuring only and never used here).

Run: `python -m services.recognizer.models.calibrate --tuning DIR` prints the fit as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence

import numpy as np

EPS = 1e-6


def logit(c: float) -> float:
    c = min(1.0 - EPS, max(EPS, c))
    return math.log(c / (1.0 - c))


def calibrated(c: float, ab: tuple[float, float]) -> float:
    z = ab[0] * logit(c) + ab[1]
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def fit_platt(confidences: Sequence[float], correct: Sequence[bool], l2: float = 1e-3,
              iterations: int = 50) -> tuple[float, float]:
    """Logistic regression of `correct` on logit(confidence) (Newton's method, a little L2)."""
    x = np.array([logit(c) for c in confidences], dtype=float)
    y = np.array(correct, dtype=float)
    if len(x) == 0 or y.min() == y.max():
        raise ValueError("calibration needs both correct and wrong reads")
    w = np.array([1.0, 0.0])
    X = np.stack([x, np.ones_like(x)], axis=1)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ w, -30, 30)))
        grad = X.T @ (p - y) + l2 * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), float(w[1])


def tuning_reads(readers: Sequence, tuning_dir: str, datasets_dir: str | None, detector) -> list[list[tuple[float, bool]]]:
    """Per reader, (confidence, correct) of every tuning read (see the module docstring)."""
    import cv2

    from alpr.plates import normalize
    from services.recognizer.models.evaluate import iou, load_openalpr
    from services.recognizer.models.images import decode_image
    from services.recognizer.models.recognizer import CUTS, cut

    crops: list[np.ndarray] = []
    labels: list[str] = []
    for item in load_openalpr(tuning_dir):
        frame = decode_image(open(item.path, "rb").read())
        (dets,) = detector.detect([frame])
        for box, text in item.plates:
            best = max(dets, key=lambda d: iou(d.box, box), default=None)
            if text and best is not None and iou(best.box, box) >= 0.4:
                for c in CUTS:
                    crops.append(cut(frame, best.box, c.pad, c.tilt_deg))
                    labels.append(text)
    if datasets_dir:
        from services.recognizer.models.train_reader import load_real_crops

        for path, text in load_real_crops(datasets_dir, "train"):
            crops.append(cv2.imread(path, cv2.IMREAD_COLOR))
            labels.append(normalize(text))
    out = []
    for reader in readers:
        reads = reader.read(crops)
        out.append([(r.confidence, normalize(r.text) == label) for r, label in zip(reads, labels)])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from services.recognizer.models.backends import build_detector, build_reader
    from services.recognizer.models.model_files import resolve_models_dir
    from services.recognizer.models.recognizer import WEIGHTS_DIR

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tuning", required=True, help="synthetic tuning frames (alpr synth testset --seed 8001)")
    ap.add_argument("--datasets", help="real data folder for the plates-ar-ocr training side (default: none)")
    ap.add_argument("--readers", nargs="+", default=["cct-onnx", "project-crnn"])
    args = ap.parse_args(argv)
    models = resolve_models_dir()
    detector = build_detector("project-yolo", device="cpu", weights_dir=WEIGHTS_DIR, models_dir=models)
    readers = [build_reader(r, device="cpu", weights_dir=WEIGHTS_DIR, models_dir=models) for r in args.readers]
    data = tuning_reads(readers, args.tuning, args.datasets, detector)
    result = {}
    for name, reader, rows in zip(args.readers, readers, data):
        ab = fit_platt([c for c, _ in rows], [ok for _, ok in rows])
        result[name] = {"model": reader.name, "a": round(ab[0], 4), "b": round(ab[1], 4), "reads": len(rows),
                        "correct": sum(ok for _, ok in rows)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
