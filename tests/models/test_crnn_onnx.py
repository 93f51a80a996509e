"""The project's CRNN on ONNX Runtime (crnn_onnx.py) reads what the torch CRNN reads, without torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alpr.errors import ConfigError
from services.recognizer.models.crnn_onnx import CrnnOnnxReader, onnx_for
from services.recognizer.models.model_files import resolve_models_dir
from services.recognizer.models.recognizer import WEIGHTS_DIR

WEIGHTS = os.path.join(WEIGHTS_DIR, "reader.pt")


def _crops() -> list[np.ndarray]:
    from alpr.synth.datasets import plate_crop

    crops = [plate_crop(6060, i)[0] for i in range(24)]
    crops.append(np.zeros((20, 60), np.uint8))  # gray, nothing on it
    crops.append(np.full((90, 30, 4), 200, np.uint8))  # BGRA, tall
    return crops


def test_reads_are_the_torch_readers_reads():
    from services.recognizer.models.crnn_reader import CrnnPlateReader

    torch_reader, onnx_reader = CrnnPlateReader(WEIGHTS, device="cpu"), CrnnOnnxReader(WEIGHTS, device="cpu")
    # The same name: the calibration fitted for the default reader finds it (crnn_onnx.py).
    assert onnx_reader.name == torch_reader.name and onnx_reader.name.startswith("crnn-ctc@")
    crops = _crops()
    expected, got = torch_reader.read(crops), onnx_reader.read(crops)
    assert sum(bool(r.text) for r in expected) >= 20  # the synthetic plates are read
    for a, b in zip(expected, got):
        assert b.text == a.text
        assert np.allclose(b.char_confidences, a.char_confidences, atol=1e-3)
    assert onnx_reader.read([]) == []


def test_the_export_is_cached_by_the_weights_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPR_DATA_DIR", str(tmp_path))
    first = onnx_for(WEIGHTS)
    assert first.parent == tmp_path / "lib" / "models" and first.name.startswith("reader-crnn-")
    stamp = first.stat().st_mtime_ns
    assert onnx_for(WEIGHTS) == first and first.stat().st_mtime_ns == stamp  # not exported again


def test_weights_that_are_not_a_reader_fail_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPR_DATA_DIR", str(tmp_path))
    bad = tmp_path / "reader.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="exporting .* to ONNX failed"):
        onnx_for(bad)


MODELS = resolve_models_dir()


# CI has the models (test_backends.py fails to collect without them there), so this never skips in CI.
@pytest.mark.skipif(not (MODELS / "cct_xs_v2_global.onnx").is_file(), reason=f"no pretrained models in {MODELS}")
def test_the_default_replica_never_imports_torch():
    code = (
        "import sys\n"
        "from services.recognizer.models import load_recognizer\n"
        "from alpr.synth import HARD, render_scene\n"
        "import numpy as np\n"
        "rec = load_recognizer(device='cpu', detector='cascade', reader='fallback')\n"
        "scene = render_scene(np.random.default_rng(5), 1280, 720, 2, HARD)\n"
        "reads = rec.recognize([scene.image])[0]\n"
        "print(len(reads), 'torch' in sys.modules, 'ultralytics' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "ALPR_MODELS_DIR": str(MODELS)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    plates, torch_loaded, ultralytics_loaded = proc.stdout.split()[-3:]
    assert int(plates) >= 1 and (torch_loaded, ultralytics_loaded) == ("False", "False")
