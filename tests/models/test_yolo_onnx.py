"""The project's detector on ONNX Runtime (yolo_onnx.py) gives ultralytics' boxes without torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alpr.errors import ConfigError
from alpr_app.models.evaluate import iou
from services.recognizer.models.recognizer import DETECTOR_WEIGHTS, WEIGHTS_DIR
from services.recognizer.models.yolo_onnx import YoloOnnxDetector, letterbox, onnx_for

WEIGHTS = os.path.join(WEIGHTS_DIR, DETECTOR_WEIGHTS)


@pytest.fixture(scope="module")
def pair():
    from services.recognizer.models.yolo_detector import YoloPlateDetector

    return YoloPlateDetector(WEIGHTS, device="cpu"), YoloOnnxDetector(WEIGHTS, device="cpu")


def _frames() -> list[np.ndarray]:
    from alpr.synth import HARD, render_scene

    rng = np.random.default_rng(77)
    frames = [render_scene(rng, 1280, 720, int(rng.integers(1, 4)), HARD).image for _ in range(4)]
    frames.append(render_scene(rng, 960, 1280, 2, HARD).image)  # portrait, another letterbox
    return frames


def test_boxes_are_ultralytics_boxes(pair):
    torch_det, onnx_det = pair
    frames = _frames()
    # ultralytics pads a batch of mixed sizes to a square; one frame per call is its rect letterbox.
    expected, got = [torch_det.detect([f])[0] for f in frames], onnx_det.detect(frames)
    assert sum(len(d) for d in expected) >= 5
    for want, have in zip(expected, got):
        assert len(want) == len(have)
        for a, b in zip(want, have):
            assert iou(a.box, b.box) >= 0.98 and abs(a.confidence - b.confidence) < 0.005
    # One frame at a time gives the same boxes as a mixed batch.
    assert [onnx_det.detect([f])[0] for f in frames] == got
    assert onnx_det.detect([]) == []
    assert (
        onnx_det.name.startswith("yolov8n-plates-onnx@") and onnx_det.name.split("@")[1] == torch_det.name.split("@")[1]
    )


def test_letterbox_pads_to_the_stride_like_ultralytics():
    chw, r, left, top = letterbox(np.zeros((720, 1280, 3), np.uint8), 512)
    assert chw.shape == (3, 288, 512) and r == 0.4 and (left, top) == (0, 0)
    chw, r, left, top = letterbox(np.zeros((700, 1280, 3), np.uint8), 512)
    assert chw.shape == (3, 288, 512) and top == 4  # 280 rows of image, 8 of grey split 4 / 4
    assert float(chw[0, 0, 0]) == pytest.approx(114 / 255)


def test_the_export_is_made_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPR_DATA_DIR", str(tmp_path))
    first = onnx_for(WEIGHTS)
    assert first.is_file() and str(first).startswith(str(tmp_path))
    stamp = first.stat().st_mtime_ns
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("exported twice"))
    assert onnx_for(WEIGHTS) == first and first.stat().st_mtime_ns == stamp


def test_a_corrupt_export_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPR_DATA_DIR", str(tmp_path))
    path = onnx_for(WEIGHTS)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ConfigError) as err:
        YoloOnnxDetector(WEIGHTS, device="cpu")
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_weights_that_are_not_a_model_fail_to_export_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPR_DATA_DIR", str(tmp_path))
    bad = tmp_path / "detector.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="exporting .* to ONNX failed"):
        onnx_for(bad)


def test_a_replica_on_onnx_backends_never_imports_torch(tmp_path):
    code = (
        "import sys\n"
        "from services.recognizer.models import load_recognizer\n"
        "import numpy as np\n"
        "rec = load_recognizer(device='cpu', detector='project-yolo-onnx', reader='cct-onnx')\n"
        "rec.recognize([np.zeros((720, 1280, 3), np.uint8)])\n"
        "print('torch' in sys.modules, 'ultralytics' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["False", "False"]
