"""The CRNN reader's input and output, without torch: crop preprocessing and greedy CTC decoding.

Shared by the torch network (crnn.py, training and `project-crnn`) and its ONNX export
(crnn_onnx.py, `project-crnn-onnx`), so both see the same input and decode the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from alpr.plates import correct_format
from services.recognizer.models.protocols import TextRead

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
BLANK = 0  # class 0 is the CTC blank; character i of ALPHABET is class i + 1
INPUT_H, INPUT_W = 32, 128


def preprocess(crops: list[np.ndarray]) -> np.ndarray:
    """BGR/gray crops -> float32 (N, 1, 32, 128), standardized per crop."""
    out = np.empty((len(crops), 1, INPUT_H, INPUT_W), np.float32)
    for i, crop in enumerate(crops):
        out[i, 0] = _standardize(to_input_gray(crop))
    return out


def to_input_gray(crop: np.ndarray) -> np.ndarray:
    """One crop as the network's uint8 32x128 grayscale view."""
    gray = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    shrink = gray.shape[0] > INPUT_H or gray.shape[1] > INPUT_W
    return cv2.resize(gray, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _standardize(gray: np.ndarray) -> np.ndarray:
    g = gray.astype(np.float32)
    return (g - g.mean()) / (g.std() + 8.0)


def encode(text: str) -> list[int]:
    """Plate text (normalized) -> class ids; characters outside the alphabet are dropped."""
    return [ALPHABET.index(c) + 1 for c in text if c in ALPHABET]


def decode(log_probs: np.ndarray) -> list[tuple[str, list[float]]]:
    """(batch, columns, classes) log-probabilities -> per item (text, per-character confidence):
    greedy CTC, each character's confidence the highest probability among its columns."""
    probs = np.exp(log_probs.astype(np.float32))
    best = probs.argmax(-1)
    best_p = np.take_along_axis(probs, best[..., None], -1)[..., 0]
    results: list[tuple[str, list[float]]] = []
    for ids, ps in zip(best, best_p):
        chars: list[str] = []
        confs: list[float] = []
        prev = BLANK
        for k, p in zip(ids, ps):
            if k != BLANK and k != prev:
                chars.append(ALPHABET[k - 1])
                confs.append(float(p))
            elif k != BLANK and k == prev:
                confs[-1] = max(confs[-1], float(p))
            prev = k
        results.append(("".join(chars), confs))
    return results


def text_reads(decoded: Iterable[tuple[str, list[float]]], correct: bool) -> list[TextRead]:
    """Decoded (text, per-character confidences) as reads: the plate's confidence is its least
    sure character's; with `correct`, `alpr.plates.correct_format` (it keeps the length, so the
    confidences stay aligned with the characters)."""
    return [
        TextRead(correct_format(text, confs) if correct else text, min(confs) if confs else 0.0, tuple(confs))
        for text, confs in decoded
    ]
