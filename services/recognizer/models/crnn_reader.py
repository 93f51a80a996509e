"""`PlateReader` backed by the project's CRNN weights (see crnn.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.recognizer.models.fingerprint import versioned
from services.recognizer.models.protocols import TextRead


class CrnnPlateReader:
    """Batched CRNN + greedy CTC; optional format-aware confusable correction.

    With `correct=True` (the default) reads go through `alpr.plates.correct_format`, which
    only swaps confusable letters and digits and keeps the length, so per-character
    confidences stay aligned with the characters.
    """

    name = "crnn-ctc"  # replaced per instance by name@weights-hash (fingerprint.versioned)

    def __init__(
        self,
        weights: str,
        device: str = "cpu",
        half: bool | None = None,
        correct: bool = True,
        batch_size: int = 256,
        threads: int | None = None,
    ):
        import torch

        if threads:
            torch.set_num_threads(threads)  # process-wide: torch has one intra-op pool
        from services.recognizer.models.crnn import ALPHABET, Crnn

        ckpt = torch.load(weights, map_location="cpu", weights_only=True)
        self.name = versioned(type(self).name, weights)
        if ckpt.get("alphabet") != ALPHABET:
            raise ValueError(f"{weights}: reader weights were trained for another alphabet")
        self.model = Crnn(ckpt.get("width", "small"))
        self.model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
        )
        self.device = torch.device(device)
        self.half = self.device.type == "cuda" if half is None else half
        self.model.to(self.device).eval()
        if self.half:
            self.model.half()
        self.correct = correct
        self.batch_size = batch_size

    def read(self, crops: Sequence[np.ndarray]) -> list[TextRead]:
        import torch

        from services.recognizer.models.crnn import greedy_decode, preprocess
        from services.recognizer.models.crnn_io import text_reads

        out: list[TextRead] = []
        for i in range(0, len(crops), self.batch_size):
            x = torch.from_numpy(preprocess(list(crops[i : i + self.batch_size]))).to(self.device)
            with torch.inference_mode():
                out += text_reads(greedy_decode(self.model(x.half() if self.half else x)), self.correct)
        return out

    def warmup(self) -> None:
        self.read([np.zeros((60, 120, 3), np.uint8)] * 4)
