"""Calibrating the readers' confidences: P(read correct | reader, confidence).

Two uses. `--fit READER [--write]` fits the confidence the recognizer reports for a reader
(calibration.py: isotonic, through the whole recognizer; plates-us-ocr-val may be used, as
its licence allows calibration, and its figure is cross-validated) and stores it in
weights/calibration.json. Without `--fit`, for the `vote` reader's weights: each reader's own confidence (the CRNN's lowest character probability, the CCT's lowest slot
probability) is mapped through a Platt fit, p = sigmoid(a * logit(c) + b), fitted per reader
on tuning data that no reported figure uses:

* synthetic `HARD` frames of a tuning seed (8001; the test set is 9001), every labelled
  plate found by the project detector, read from each of the recognizer's cuts;
* the plates-ar-ocr crops of the training side of `train_reader.real_split` (the held-out
  side is a reported set; plates-us-ocr-val is for measuring only and never used here).

Run: `python -m alpr_app.models.calibrate --tuning DIR` prints the fit as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Sequence

import numpy as np

from services.recognizer.models.calibration import logit


def fit_platt(
    confidences: Sequence[float], correct: Sequence[bool], l2: float = 1e-3, iterations: int = 50
) -> tuple[float, float]:
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


def tuning_reads(
    readers: Sequence, tuning_dir: str, datasets_dir: str | None, detector
) -> list[list[tuple[float, bool]]]:
    """Per reader, (confidence, correct) of every tuning read (see the module docstring)."""
    import cv2

    from alpr.plates import normalize
    from alpr_app.models.evaluate import iou, load_openalpr
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
        from alpr_app.models.train_reader import load_real_crops

        for path, text in load_real_crops(datasets_dir, "train"):
            crops.append(cv2.imread(path, cv2.IMREAD_COLOR))
            labels.append(normalize(text))
    out = []
    for reader in readers:
        reads = reader.read(crops)
        out.append([(r.confidence, normalize(r.text) == label) for r, label in zip(reads, labels)])
    return out


def plate_reads(recognizer, items) -> list[tuple[float, bool]]:
    """(reported confidence, exact) of every labelled plate the recognizer finds in `items`
    (openalpr-style frames), matched by IoU as `evaluate_frames` matches them."""
    return [pair for _, pair in labelled_plate_reads(recognizer, items)]


def labelled_plate_reads(recognizer, items) -> list[tuple[str, tuple[float, bool]]]:
    """`plate_reads` with each plate's label: (text, (reported confidence, exact))."""
    from alpr.plates import normalize
    from alpr_app.models.evaluate import IOU_CAPTURED, iou
    from services.recognizer.models.images import decode_image

    out = []
    for item in items:
        (reads,) = recognizer.recognize([decode_image(open(item.path, "rb").read())])
        for box, text in item.plates:
            best = max(reads, key=lambda r: iou(r.bbox, box), default=None)
            if text and best is not None and iou(best.bbox, box) >= IOU_CAPTURED and best.text:
                out.append((text, (best.confidence, normalize(best.text) == text)))
    return out


def crop_reads(reader, rows: Sequence[tuple[str, str]]) -> list[tuple[float, bool] | None]:
    """Per labelled crop (image path, text), the reader's (confidence, exact), None if it read nothing."""
    import cv2

    from alpr.plates import normalize

    reads = reader.read([cv2.imread(p, cv2.IMREAD_COLOR) for p, _ in rows])
    return [(r.confidence, normalize(r.text) == normalize(t)) if r.text else None for r, (_, t) in zip(reads, rows)]


def reliability(pairs: Sequence[tuple[float, bool]], mapping=None) -> dict:
    """The reliability curve of (confidence, exact) pairs, each confidence through `mapping` when given."""
    from alpr_app.models.evaluate import _Tally

    tally = _Tally()
    tally.scored = [(mapping(c) if mapping else c, ok) for c, ok in pairs]
    return tally.reliability()


def fit_reader(
    recognizer,
    reader,
    tuning_items,
    tuning_crops,
    held_crops,
    folds: int = 2,
    held_items: Sequence = (),
    z: float | None = None,
) -> dict:
    """Fit a reader's calibration (calibration.fit_isotonic) and say how it holds on data it was not fitted on.

    Fitted on the synthetic tuning frames (through the whole recognizer, reporting raw
    confidences), the tuning crops and all but one fold of the held data: `held_crops`
    (read by the reader alone) and `held_items` (labelled frames, through the whole
    recognizer: the plates in real frames that later stages see). Each fold's reliability is
    measured with the fit that did not see it; folds go by plate text (stable), so a plate
    held as a crop and pasted in frames is in one fold. The final fit uses everything."""
    import zlib

    from services.recognizer.models.calibration import fit_isotonic

    if recognizer.calibration is not None:
        raise ValueError("fit on raw confidences: load the recognizer with calibrate=False")

    def fold(text: str) -> int:
        return zlib.crc32(text.encode()) % folds

    base = plate_reads(recognizer, tuning_items) + [x for x in crop_reads(reader, tuning_crops) if x]
    held = [(fold(t), pair, False) for (_, t), pair in zip(held_crops, crop_reads(reader, held_crops)) if pair]
    held += [(fold(t), pair, True) for t, pair in labelled_plate_reads(recognizer, held_items)]
    crossed: list[tuple[float, bool, bool]] = []
    for k in range(folds):
        rest = [pair for f, pair, _ in held if f != k]
        fit = fit_isotonic(*zip(*(base + rest)), z=z)
        crossed += [(fit(c), ok, frame) for f, (c, ok), frame in held if f == k]
    everything = base + [pair for _, pair, _ in held]
    fit = fit_isotonic(*zip(*everything), z=z)
    out = {
        "steps": fit.as_json(),
        "reads": len(everything),
        "right": sum(ok for _, ok in everything),
        "raw_held": reliability([pair for _, pair, _ in held]),
        "calibrated_held_cross_validated": reliability([(c, ok) for c, ok, _ in crossed]),
        "calibrated_tuning": reliability(base, fit),
    }
    if held_items:
        out["calibrated_held_frames_cross_validated"] = reliability([(c, ok) for c, ok, frame in crossed if frame])
    return out


def write_fit(entry: dict, path: str) -> None:
    """Put `entry` into the calibration file, replacing the one for the same reader."""
    doc = {"pipelines": []}
    if os.path.exists(path):
        with open(path) as f:
            doc = json.load(f)
    doc["pipelines"] = [e for e in doc["pipelines"] if e["reader"] != entry["reader"]] + [entry]
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        # One line per step: the file is read in reviews, and a step is a pair.
        f.write(re.sub(r"\[\s+(-?[\d.e-]+),\s+(-?[\d.e-]+)\s+\]", r"[\1, \2]", json.dumps(doc, indent=1)) + "\n")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    from services.recognizer.models.backends import build_detector, build_reader
    from services.recognizer.models.calibration import LOWER_BOUND_Z
    from services.recognizer.models.model_files import resolve_models_dir
    from services.recognizer.models.recognizer import WEIGHTS_DIR

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tuning", required=True, help="synthetic tuning frames (alpr synth testset --seed 8001)")
    ap.add_argument("--datasets", help="real data folder for the plates-ar-ocr training side (default: none)")
    ap.add_argument("--readers", nargs="+", default=["cct-onnx", "project-crnn"])
    ap.add_argument(
        "--fit",
        metavar="READER",
        help="fit one reader's own calibration (its spec's `calibration`) "
        "through the whole recognizer, cross-validated on --held",
    )
    ap.add_argument("--detector", default="cascade", help="with --fit: the detector of the recognizer")
    ap.add_argument(
        "--held",
        help="with --fit: labelled crops CSV for the cross-validated figure (plates-us-ocr-val: "
        "measuring, selection and calibration only)",
    )
    ap.add_argument(
        "--held-frames",
        action="append",
        default=[],
        metavar="DIR",
        help="with --fit: labelled frames (openalpr folder; repeatable) held like --held, read through "
        "the whole recognizer: e.g. its crops pasted in real frames (alpr synth composite --crops)",
    )
    ap.add_argument(
        "--lower-bound",
        type=float,
        default=LOWER_BOUND_Z,
        metavar="Z",
        help="with --fit: each step reports the Wilson lower bound of its share of right reads at Z "
        f"standard deviations (default {LOWER_BOUND_Z}; 0: (right + 1) / (reads + 2))",
    )
    ap.add_argument(
        "--write",
        action="store_true",
        help="with --fit: store the fit in weights/calibration.json (the recognizer then reports it)",
    )
    args = ap.parse_args(argv)
    models = resolve_models_dir()
    if args.fit:
        import datetime

        from alpr_app.models.evaluate import load_crops, load_openalpr
        from alpr_app.models.train_reader import load_real_crops
        from services.recognizer.models.calibration import CALIBRATION_FILE
        from services.recognizer.models.recognizer import load_recognizer

        rec = load_recognizer(device="cpu", detector=args.detector, reader=args.fit, models_dir=models, calibrate=False)
        tuning_crops = load_real_crops(args.datasets, "train") if args.datasets else []
        held = load_crops(args.held) if args.held else []
        held_frames = [item for d in args.held_frames for item in load_openalpr(d)]
        result = fit_reader(
            rec,
            rec.reader,
            load_openalpr(args.tuning),
            tuning_crops,
            held,
            held_items=held_frames,
            z=args.lower_bound or None,
        )
        entry = {
            "reader": rec.reader.name,
            "fitted_with_detector": rec.detector.name,
            "fitted": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
            "data": {
                "tuning_frames": f"{len(load_openalpr(args.tuning))} frames of {os.path.basename(os.path.normpath(args.tuning))}",
                "tuning_crops": len(tuning_crops),
                "held": f"{len(held)} crops of {os.path.basename(os.path.dirname(os.path.abspath(args.held)))}"
                if held
                else None,
                "held_frames": [
                    f"{len(load_openalpr(d))} frames of {os.path.basename(os.path.normpath(d))}"
                    for d in args.held_frames
                ],
            },
            "lower_bound_z": args.lower_bound or None,
            **result,
        }
        if args.write:
            write_fit(entry, CALIBRATION_FILE)
        print(json.dumps(entry))
        return 0
    detector = build_detector("project-yolo", device="cpu", weights_dir=WEIGHTS_DIR, models_dir=models)
    readers = [build_reader(r, device="cpu", weights_dir=WEIGHTS_DIR, models_dir=models) for r in args.readers]
    data = tuning_reads(readers, args.tuning, args.datasets, detector)
    result = {}
    for name, reader, rows in zip(args.readers, readers, data):
        ab = fit_platt([c for c, _ in rows], [ok for _, ok in rows])
        result[name] = {
            "model": reader.name,
            "a": round(ab[0], 4),
            "b": round(ab[1], 4),
            "reads": len(rows),
            "correct": sum(ok for _, ok in rows),
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
