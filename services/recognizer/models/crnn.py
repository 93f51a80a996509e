"""The plate reader network: a small CRNN (conv features -> BiLSTM -> per-column classes), CTC.

Input is a grayscale crop resized to 32x128 and standardized per image (so day, night and
IR crops look alike to the network); output is 32 columns of class scores over the blank
plus A-Z0-9. Greedy CTC decoding gives the text and, per character, the highest
probability among the columns that produced it.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
BLANK = 0  # class 0 is the CTC blank; character i of ALPHABET is class i + 1
INPUT_H, INPUT_W = 32, 128


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


# Conv channels per stage, channels into the LSTM, LSTM units per direction. 'small' was sized
# for CPU training on two cores: it trains faster per image than 'wide' (measured: 477 vs
# 298 images/s on both cores); 'wide' (the committed reader) is for when capacity, not
# training time, limits reading (see the model card).
WIDTHS: dict[str, tuple[tuple[int, int, int, int], int, int]] = {
    "small": ((24, 48, 64, 96), 160, 96),
    "wide": ((32, 64, 96, 128), 192, 128),
}


class Crnn(nn.Module):
    """32x128 in, (batch, 32 columns, 37 classes) log-probabilities out; 0.37M parameters small, 0.66M wide."""

    def __init__(self, width: str = "small", n_classes: int = len(ALPHABET) + 1):
        super().__init__()
        if width not in WIDTHS:
            raise ValueError(f"unknown reader width {width!r} (one of {', '.join(WIDTHS)})")
        self.width = width
        c, feat, units = WIDTHS[width]
        self.features = nn.Sequential(
            *_block(1, c[0]),
            nn.MaxPool2d(2),  # 16x64
            *_block(c[0], c[1]),
            nn.MaxPool2d(2),  # 8x32
            *_block(c[1], c[2]),
            *_block(c[2], c[2]),
            nn.MaxPool2d((2, 1)),  # 4x32
            *_block(c[2], c[3]),
            nn.MaxPool2d((2, 1)),  # 2x32
            nn.Conv2d(c[3], feat, (2, 1)),
            nn.BatchNorm2d(feat),
            nn.ReLU(inplace=True),  # 1x32
        )
        self.rnn = nn.LSTM(feat, units, num_layers=1, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * units, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x).squeeze(2).permute(0, 2, 1)  # (batch, columns, channels)
        f, _ = self.rnn(f)
        return self.head(f).log_softmax(-1)


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


def greedy_decode(log_probs: torch.Tensor) -> list[tuple[str, list[float]]]:
    """(batch, columns, classes) log-probabilities -> per item (text, per-character confidence)."""
    probs = log_probs.float().exp()
    best_p, best = probs.max(-1)
    results: list[tuple[str, list[float]]] = []
    for ids, ps in zip(best.cpu().numpy(), best_p.cpu().numpy()):
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
