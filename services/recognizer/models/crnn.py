"""The plate reader network: a small CRNN (conv features -> BiLSTM -> per-column classes), CTC.

Input is a grayscale crop resized to 32x128 and standardized per image (so day, night and
IR crops look alike to the network); output is 32 columns of class scores over the blank
plus A-Z0-9. Greedy CTC decoding gives the text and, per character, the highest
probability among the columns that produced it.
"""

from __future__ import annotations

import torch
from torch import nn

# The input and the decoding need no torch (crnn_onnx.py reads with them alone); the names stay
# importable from here, where the training code has always found them.
from services.recognizer.models.crnn_io import (  # noqa: F401
    ALPHABET,
    BLANK,
    INPUT_H,
    INPUT_W,
    decode,
    encode,
    preprocess,
    to_input_gray,
)


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


def greedy_decode(log_probs: torch.Tensor) -> list[tuple[str, list[float]]]:
    """(batch, columns, classes) log-probabilities -> per item (text, per-character confidence)."""
    return decode(log_probs.float().cpu().numpy())
