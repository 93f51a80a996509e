"""The project's CRNN reader on ONNX Runtime: the same weights and reads, no torch in the replica.

The default reader (`fallback`) asks the CRNN about the crops the pretrained CCT doubts. On
torch, one thread beside ONNX Runtime, the CRNN took 13.0 ms for 6 crops and 52.4 ms for 24;
its ONNX export takes 3.8 and 15.5 ms (dev-2c, one thread each). Torch also held about 0.7 GB
of every default replica for this one small network: with the detector already on ONNX
Runtime (yolo_onnx.py), the default replica now never imports torch.

The ONNX file is exported once per weights file, in a child process (the replica itself never
imports torch), and cached under `<data dir>/lib/models/` by the weights' hash; a `reader.onnx`
beside the weights (an image built ahead of time) is used as is. The export's log-probabilities
match torch's within 1e-4 (a test reads the same texts and confidences with both), so the
reader keeps the torch reader's name, `crnn-ctc@<weights hash>`: the calibration fitted for the
default reader (weights/calibration.json) applies to it unchanged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from services.recognizer.models.fingerprint import versioned
from services.recognizer.models.protocols import TextRead


def onnx_for(weights: str | Path) -> Path:
    """The ONNX export of CRNN weights: beside them, else cached (exported on first use)."""
    from services.recognizer.models.model_files import onnx_export

    return onnx_export(weights, __name__, tag="crnn")


def export(weights: str | Path, out: str | Path) -> None:
    """torch's ONNX export of the CRNN (dynamic batch), written atomically."""
    import torch

    from services.recognizer.models.crnn import ALPHABET, INPUT_H, INPUT_W, Crnn

    ckpt = torch.load(str(weights), map_location="cpu", weights_only=True)
    if ckpt.get("alphabet") != ALPHABET:
        raise ValueError(f"{weights}: reader weights were trained for another alphabet")
    model = Crnn(ckpt.get("width", "small"))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    model.eval()
    partial = f"{out}.{os.getpid()}.partial"  # replicas starting together export side by side
    torch.onnx.export(
        model,
        (torch.zeros(2, 1, INPUT_H, INPUT_W),),
        partial,
        input_names=["x"],
        output_names=["log_probs"],
        dynamic_axes={"x": {0: "batch"}, "log_probs": {0: "batch"}},
        opset_version=17,
        dynamo=False,  # the TorchScript exporter: no onnxscript needed, and LSTMs export as one op
    )
    os.replace(partial, out)


class CrnnOnnxReader:
    """`PlateReader` of the CRNN weights on ONNX Runtime; reads as `CrnnPlateReader` does."""

    name = "crnn-ctc"  # the torch reader's name: the same weights, the same reads (module docstring)

    def __init__(
        self,
        weights: str | Path,
        device: str = "cpu",
        correct: bool = True,
        batch_size: int = 256,
        threads: int | None = None,
    ):
        from services.recognizer.models.onnx_models import session

        self.name = versioned(type(self).name, str(weights))
        path = onnx_for(weights)
        self.session = session(path, device, threads)
        self.input = self.session.get_inputs()[0].name
        self.correct = correct
        self.batch_size = batch_size

    def read(self, crops: Sequence[np.ndarray]) -> list[TextRead]:
        from services.recognizer.models.crnn_io import decode, preprocess, text_reads

        out: list[TextRead] = []
        for i in range(0, len(crops), self.batch_size):
            (log_probs,) = self.session.run(None, {self.input: preprocess(list(crops[i : i + self.batch_size]))})
            out += text_reads(decode(log_probs), self.correct)
        return out

    def warmup(self) -> None:
        self.read([np.zeros((60, 120, 3), np.uint8)] * 4)


if __name__ == "__main__":  # the child process of `onnx_for`
    export(sys.argv[1], sys.argv[2])
