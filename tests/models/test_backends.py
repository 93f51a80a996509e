"""Model backends (services/recognizer/models/backends.py) with the real pretrained ONNX models.

The models come from the models dir: $ALPR_MODELS_DIR, else ../shared/models beside the
repository (there on the development machines and in CI). Without it these tests skip.
"""

from __future__ import annotations

import csv
import glob
import os
import shutil
from datetime import UTC
from pathlib import Path
from typing import get_args

import cv2
import numpy as np
import pytest

from alpr.errors import ConfigError
from alpr_app.models.evaluate import iou
from services.recognizer.models import BadImageError, PlateDetector, PlateReader, Recognizer
from services.recognizer.models.fusion import merge, weighted_vote
from services.recognizer.models.model_files import resolve_models_dir, sha256
from services.recognizer.models.protocols import Detection, TextRead

MODELS = resolve_models_dir()
DATASETS = Path(os.environ.get("ALPR_DATASETS") or Path(__file__).resolve().parents[2].parent / "shared" / "datasets")
US_CROPS = DATASETS / "plates-us-ocr-val"
RO_VAL = DATASETS / "plates-ro-detect" / "images" / "val"

# A developer without ../shared skips these; CI never does (a skip there would hide that the
# pretrained models were not checked): the module then fails to collect, saying what is missing.
_missing = [str(p) for p in (MODELS / "cct_xs_v2_global.onnx", US_CROPS / "annotations.csv", RO_VAL) if not p.exists()]
if _missing and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI=true and the pretrained models or real sets are missing: {', '.join(_missing)}")

needs_models = pytest.mark.skipif(
    not (MODELS / "cct_xs_v2_global.onnx").is_file(),
    reason=f"no pretrained models in {MODELS} (set ALPR_MODELS_DIR, see docs/benchmarks-models.md)",
)
needs_us = pytest.mark.skipif(not (US_CROPS / "annotations.csv").is_file(), reason=f"no {US_CROPS}")
needs_ro = pytest.mark.skipif(not RO_VAL.is_dir(), reason=f"no {RO_VAL}")


def _us_rows(n: int) -> list[tuple[np.ndarray, str]]:
    with open(US_CROPS / "annotations.csv", newline="") as f:
        rows = list(csv.DictReader(f))[:n]
    return [(cv2.imread(str(US_CROPS / r["image_path"]), cv2.IMREAD_COLOR), r["plate_text"]) for r in rows]


@pytest.fixture(scope="module")
def detector():
    from services.recognizer.models.onnx_models import YoloV9OnnxDetector

    det = YoloV9OnnxDetector(MODELS, device="cpu")
    det.warmup()
    return det


@pytest.fixture(scope="module")
def reader():
    from services.recognizer.models.onnx_models import CctOnnxReader

    rd = CctOnnxReader(MODELS, device="cpu")
    rd.warmup()
    return rd


def test_presets_are_the_settings_choices():
    from services.recognizer.models.backends import BACKENDS, DETECTOR_PRESETS, READER_PRESETS
    from services.recognizer.settings import DetectorName, ReaderName, RecognizerSettings

    assert set(get_args(DetectorName)) == set(DETECTOR_PRESETS)
    assert set(get_args(ReaderName)) == set(READER_PRESETS)
    for det, rd in BACKENDS.values():
        assert det in DETECTOR_PRESETS and rd in READER_PRESETS
    # The running pipeline's default: the cascade detector and the fallback reader (pretrained
    # models first, the project's where they doubt; docs/benchmarks-models.md).
    defaults = RecognizerSettings.model_fields
    assert (defaults["detector"].default, defaults["reader"].default) == ("cascade", "fallback")
    # The service reads the other cuts below the same confidence as `alpr eval` and the benches.
    from services.recognizer.models.recognizer import MORE_CUTS_BELOW

    assert defaults["more_cuts_below"].default == MORE_CUTS_BELOW


def test_specs_are_typed_by_type():
    from pydantic import ValidationError

    from services.recognizer.models.backends import CctOnnxSpec, FusedDetectorSpec, detector_spec, reader_spec

    spec = reader_spec({"type": "cct-onnx", "model": "cct_xs_v1_global.onnx"})
    assert isinstance(spec, CctOnnxSpec) and spec.model == "cct_xs_v1_global.onnx"
    fused = detector_spec({"type": "fused", "parts": [{"type": "project-yolo"}, {"type": "yolov9-onnx", "conf": 0.3}]})
    assert isinstance(fused, FusedDetectorSpec) and [p.type for p in fused.parts] == ["project-yolo", "yolov9-onnx"]
    with pytest.raises(ValidationError):
        reader_spec({"type": "cct-onnx", "modle": "x.onnx"})  # a typo is refused, not ignored
    # The cascade refines large boxes by default (fusion.CascadeDetector); null turns it off,
    # and a width that is not a fraction of the frame is refused.
    assert (detector_spec("cascade").refine_taller, detector_spec("cascade").refine_below) == (0.045, 0.8)
    assert detector_spec({"type": "cascade", "refine_taller": None}).refine_taller is None
    with pytest.raises(ValidationError):
        detector_spec({"type": "cascade", "refine_taller": 58})
    with pytest.raises(ConfigError, match="unknown detector"):
        detector_spec("yolov5")


@needs_models
@needs_us
def test_cct_reads_real_us_crops(reader):
    assert isinstance(reader, PlateReader)
    rows = _us_rows(6)
    reads = reader.read([img for img, _ in rows])
    assert [r.text for r in reads] == [label for _, label in rows]
    for r in reads:
        assert "_" not in r.text and len(r.char_confidences) == len(r.text)
        assert 0.0 < r.confidence <= min(r.char_confidences) <= 1.0
    # Named by its file's hash, as every read carries it.
    stem, _, digest = reader.name.partition("@")
    assert stem == "cct_xs_v2_global" and digest == sha256(MODELS / "cct_xs_v2_global.onnx")[:12]


@needs_models
@needs_us
def test_cct_reader_bad_crops_read_as_nothing_or_convert(reader):
    img, label = _us_rows(1)[0]
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    reads = reader.read([np.zeros((0, 0, 3), np.uint8), gray, bgra, np.zeros((1, 1, 3), np.uint8), img[:, :, :2]])
    assert len(reads) == 5
    assert reads[0] == TextRead("", 0.0, ()) and reads[4] == TextRead("", 0.0, ())
    assert reads[2].text == label  # BGRA is the same plate
    assert reads[1].text and reads[3].confidence <= 1.0
    assert reader.read([]) == []


@needs_models
@needs_ro
def test_yolov9_finds_the_plates_of_a_real_val_frame(detector):
    assert isinstance(detector, PlateDetector)
    frame, boxes = _ro_frame_and_boxes()
    H, W = frame.shape[:2]
    assert boxes
    (dets,) = detector.detect([frame])
    for box in boxes:
        assert max(iou(box, d.box) for d in dets) >= 0.4, (box, dets)
    for d in dets:
        x, y, w, h = d.box
        assert 0 <= x < x + w <= W and 0 <= y < y + h <= H and 0.0 < d.confidence <= 1.0
    stem, _, digest = detector.name.partition("@")
    assert digest == sha256(detector.path)[:12] and stem == detector.path.stem


def _ro_frame_and_boxes() -> tuple[np.ndarray, list]:
    image = sorted(glob.glob(str(RO_VAL / "*.jpg")))[0]
    frame = cv2.imread(image)
    H, W = frame.shape[:2]
    label = image.replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}").rsplit(".", 1)[0] + ".txt"
    boxes = []
    for line in open(label):
        cx, cy, bw, bh = (float(v) for v in line.split()[1:])
        boxes.append((round((cx - bw / 2) * W), round((cy - bh / 2) * H), round(bw * W), round(bh * H)))
    return frame, boxes


@needs_models
@needs_ro
def test_pretrained_recognizer_bad_frames(detector, reader):
    rec = Recognizer(detector, reader, max_pixels=20_000_000)
    frame, boxes = _ro_frame_and_boxes()
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
    color, from_gray, from_bgra = rec.recognize([frame, gray, bgra])
    for box in boxes:
        assert max(iou(box, r.bbox) for r in color) >= 0.4
    # BGRA is the same pixels: the same reads. Gray converts and runs; without colour the
    # detector finds fewer plates (here the faint second one is lost), so one is asked for.
    assert [(r.text, r.bbox) for r in from_bgra] == [(r.text, r.bbox) for r in color]
    assert any(max((iou(box, r.bbox) for r in from_gray), default=0.0) >= 0.4 for box in boxes)
    with pytest.raises(BadImageError, match="frame 1: zero-size"):
        rec.recognize([frame, np.zeros((0, 10, 3), np.uint8)])
    with pytest.raises(BadImageError, match="too large"):
        rec.recognize([np.zeros((5000, 5000, 3), np.uint8)])
    with pytest.raises(BadImageError, match="unsupported image shape"):
        rec.recognize([np.zeros((10, 10, 2), np.uint8)])
    huge = np.zeros((4000, 4800, 3), np.uint8)  # allowed: letterboxed down, no plate in it
    assert rec.recognize([huge]) == [[]]
    assert rec.recognize([]) == []


@needs_models
def test_twenty_plates_in_one_frame_fused():
    from dataclasses import replace

    from alpr.synth import CLEAN, render_scene
    from services.recognizer.models import load_recognizer

    rec = load_recognizer(device="cpu", detector="fused", reader="cct-onnx", models_dir=MODELS)
    scene = render_scene(np.random.default_rng(41), 2560, 1440, 20, replace(CLEAN, plate_width=(110, 170)))
    assert len(scene.plates) == 20
    (reads,) = rec.recognize([scene.image])
    matched = [max(reads, key=lambda r: iou(r.bbox, p.box)) for p in scene.plates]
    assert all(iou(r.bbox, p.box) >= 0.4 for r, p in zip(matched, scene.plates))
    assert len({r.bbox for r in matched}) == 20  # one box per plate, none merged away
    assert sum(r.text == p.text for r, p in zip(matched, scene.plates)) >= 18


def _copy_model(tmp_path: Path, name: str, data: bytes | None = None) -> Path:
    target = tmp_path / name
    if data is None:
        shutil.copy(MODELS / name, target)
    else:
        target.write_bytes(data)
    return target


@needs_models
def test_missing_model_is_one_line_that_says_how_to_get_it(tmp_path):
    from services.recognizer.models.onnx_models import CctOnnxReader, YoloV9OnnxDetector

    for build in (lambda: YoloV9OnnxDetector(tmp_path), lambda: CctOnnxReader(tmp_path)):
        with pytest.raises(ConfigError) as err:
            build()
        line = str(err.value)
        assert "\n" not in line and "not found" in line and str(tmp_path) in line
        assert "ALPR_MODELS_DIR" in line and "alpr models fetch" in line
    _copy_model(tmp_path, "cct_xs_v2_global.onnx")  # the model without its plate config
    with pytest.raises(ConfigError, match="cct_xs_v2_global_plate_config.yaml not found"):
        CctOnnxReader(tmp_path)


@needs_models
def test_corrupt_model_is_one_line(tmp_path):
    from services.recognizer.models.onnx_models import CctOnnxReader, YoloV9OnnxDetector

    det = "yolo-v9-t-416-license-plates-end2end1.onnx"
    _copy_model(tmp_path, det, (MODELS / det).read_bytes()[:50_000])  # truncated
    _copy_model(tmp_path, "cct_xs_v2_global.onnx", b"<html>not found</html>")  # an error page saved as a model
    _copy_model(tmp_path, "cct_xs_v2_global_plate_config.yaml")
    for build in (lambda: YoloV9OnnxDetector(tmp_path), lambda: CctOnnxReader(tmp_path)):
        with pytest.raises(ConfigError) as err:
            build()
        assert "\n" not in str(err.value) and "corrupt" in str(err.value) and "ALPR_MODELS_DIR" in str(err.value)
    # A file that still loads but differs from the folder's SHA256SUMS is refused too.
    good = tmp_path / "sums"
    good.mkdir()
    data = bytearray((MODELS / "cct_xs_v2_global.onnx").read_bytes())
    data[-1] ^= 0xFF
    _copy_model(good, "cct_xs_v2_global.onnx", bytes(data))
    _copy_model(good, "cct_xs_v2_global_plate_config.yaml")
    shutil.copy(MODELS / "SHA256SUMS", good / "SHA256SUMS")
    with pytest.raises(ConfigError, match="corrupt.*SHA-256"):
        CctOnnxReader(good)
    (good / "cct_xs_v2_global.onnx").write_bytes((MODELS / "cct_xs_v2_global.onnx").read_bytes())
    (good / "cct_xs_v2_global_plate_config.yaml").write_text("max_plate_slots: [unclosed\n")
    with pytest.raises(ConfigError, match="plate_config.yaml is corrupt"):
        CctOnnxReader(good)


def test_merge_keeps_the_union_one_box_per_plate():
    a = [Detection((100, 100, 80, 40), 0.9), Detection((400, 300, 60, 30), 0.5)]
    b = [
        Detection((104, 102, 80, 40), 0.95),  # the same plate as a[0]: a's box is kept
        Detection((110, 108, 40, 20), 0.8),  # inside a[0]: the same plate
        Detection((700, 500, 90, 45), 0.3),
    ]  # only b found it
    assert merge([a, b]) == [a[0], a[1], b[2]]
    assert merge([b, a]) == [b[0], b[2], a[1]]
    assert merge([[], []]) == []


def test_weighted_vote():
    x, y, empty = TextRead("ABC123", 0.6, (0.6,) * 6), TextRead("ABC128", 0.9, (0.9,) * 6), TextRead("", 0.0, ())
    assert weighted_vote([(x, 1.0), (x, 1.0), (y, 1.0)]) == x  # 1.2 against 0.9
    assert weighted_vote([(x, 1.0), (x, 1.0), (y, 2.0)]) == y  # 1.2 against 1.8
    assert weighted_vote([(empty, 1.0), (x, 1.0)]) == x
    assert weighted_vote([(empty, 1.0)]) == empty


@needs_models
def test_fused_backends_through_load_recognizer():
    from dataclasses import replace

    from alpr.synth import CLEAN, render_scene
    from services.recognizer.models import load_recognizer

    rec = load_recognizer(device="cpu", detector="fused", reader="vote", models_dir=MODELS)
    assert rec.detector.name.startswith("fused(yolov8n-plates@") and "+yolo-v9-t-416" in rec.detector.name
    assert rec.reader.name.startswith("vote(cct_xs_v2_global@") and "+crnn-ctc@" in rec.reader.name
    scene = render_scene(np.random.default_rng(31), 1280, 720, 2, replace(CLEAN, plate_width=(140, 200)))
    (reads,) = rec.recognize([scene.image])
    for plate in scene.plates:
        best = max(reads, key=lambda r: iou(r.bbox, plate.box))
        assert iou(best.bbox, plate.box) >= 0.4 and best.text == plate.text


@needs_models
@needs_ro
def test_cascade_finds_what_the_project_detector_misses_on_real_frames():
    from services.recognizer.models import load_recognizer

    rec = load_recognizer(device="cpu", detector="cascade", reader="cct-onnx", models_dir=MODELS)
    assert rec.detector.name.startswith("cascade(yolov8n-plates-onnx@") and "|yolo-v9-t-416" in rec.detector.name
    assert rec.detector.refine_taller == 0.045  # large boxes refined (test_cascade.py)
    # The real val frames where the project's detector alone misses a labelled plate (measured:
    # 4 plates in 107 frames); the cascade must find at least one of them, and never lose a
    # plate the project's detector found.
    frames = sorted(glob.glob(str(RO_VAL / "*.jpg")))
    primary = rec.detector.primary
    gained = lost = 0
    for path in frames:
        frame = cv2.imread(path)
        label = path.replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}").rsplit(".", 1)[0] + ".txt"
        H, W = frame.shape[:2]
        boxes = [
            (round((cx - bw / 2) * W), round((cy - bh / 2) * H), round(bw * W), round(bh * H))
            for cx, cy, bw, bh in ((float(v) for v in line.split()[1:]) for line in open(label))
        ]
        alone = primary.detect([frame])[0]
        (reads,) = rec.recognize([frame])
        for box in boxes:
            before = any(iou(box, d.box) >= 0.4 for d in alone)
            after = any(iou(box, r.bbox) >= 0.4 for r in reads)
            gained += after and not before
            lost += before and not after
    assert gained >= 1 and lost == 0


def test_cuda_device_without_the_gpu_build_runs_on_the_cpu():
    import onnxruntime as ort

    from services.recognizer.models.onnx_models import providers_for

    assert providers_for("cpu") == ["CPUExecutionProvider"]
    chosen = providers_for("cuda:0")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert chosen[0] == ("CUDAExecutionProvider", {"device_id": 0})
    else:
        assert chosen == ["CPUExecutionProvider"]


@needs_models
@needs_us
def test_eval_backend_flag_reports_models_and_memory(capsys):
    import json

    from alpr_app.cli import main

    assert (
        main(
            [
                "eval",
                "--dataset",
                str(US_CROPS),
                "--format",
                "crops",
                "--backend",
                "fast-alpr",
                "--limit",
                "8",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["backend"] == {"detector": None, "reader": "cct-onnx"}
    assert result["models"]["reader"].startswith("cct_xs_v2_global@") and result["images"] == 8
    assert result["peak_rss_mb"] > 0 and 0.0 <= result["perfect_read_rate"] <= 1.0
    assert main(["eval", "--dataset", str(US_CROPS), "--format", "crops", "--backend", "nope+cct-onnx"]) == 2
    assert "unknown backend" in capsys.readouterr().err


def test_platt_fit_recovers_a_known_calibration():
    from alpr_app.models.calibrate import fit_platt
    from services.recognizer.models.calibration import calibrated, logit

    rng = np.random.default_rng(7)
    conf = rng.uniform(0.05, 0.999, 20_000)
    truth = (0.6, -0.8)
    correct = rng.uniform(size=conf.size) < np.array([calibrated(c, truth) for c in conf])
    a, b = fit_platt(conf.tolist(), correct.tolist())
    assert abs(a - truth[0]) < 0.05 and abs(b - truth[1]) < 0.08
    assert calibrated(0.5, (a, b)) == pytest.approx(1 / (1 + np.exp(-b)))
    assert logit(1.0) > 10 and logit(0.0) < -10  # clipped, finite
    with pytest.raises(ValueError, match="both correct and wrong"):
        fit_platt([0.9, 0.8], [True, True])


def test_calibrated_vote_maps_each_readers_confidence():
    from services.recognizer.models.calibration import calibrated
    from services.recognizer.models.fusion import VoteReader

    class Fixed:
        def __init__(self, name, read):
            self.name, self._read = name, read

        def read(self, crops):
            return [self._read for _ in crops]

        def warmup(self):
            pass

    a, b = TextRead("ABC123", 0.9, (0.9,) * 6), TextRead("ABC128", 0.8, (0.8,) * 6)
    # Reader b is trusted more at the same confidence: its text wins after calibration.
    vote = VoteReader([Fixed("a", a), Fixed("b", b)], calibration=((1.0, -2.0), (1.0, 2.0)))
    (read,) = vote.read([np.zeros((10, 20, 3), np.uint8)])
    assert read.text == "ABC128" and read.confidence == pytest.approx(calibrated(0.8, (1.0, 2.0)))
    assert VoteReader([Fixed("a", a), Fixed("b", b)]).read([np.zeros((1, 1, 3), np.uint8)])[0].text == "ABC123"
    with pytest.raises(ValueError, match="one calibration"):
        VoteReader([Fixed("a", a), Fixed("b", b)], calibration=((1.0, 0.0),))


@needs_models
@needs_ro
def test_service_reads_name_the_configured_models_by_hash(monkeypatch):
    from datetime import datetime

    from alpr.contracts.models import FrameHeaders
    from alpr.settings import load_settings
    from services.recognizer.frames import reads_for_frame
    from services.recognizer.main import FramePipeline, load_models
    from services.recognizer.settings import RecognizerSettings

    for key in [k for k in os.environ if k.startswith("ALPR_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ALPR_RECOGNIZER_DETECTOR", "yolov9-onnx")
    monkeypatch.setenv("ALPR_RECOGNIZER_READER", "cct-onnx")
    monkeypatch.setenv("ALPR_MODELS_DIR", str(MODELS))
    monkeypatch.setenv("ALPR_RECOGNIZER_DEVICE", "cpu")
    settings = load_settings(RecognizerSettings)
    pipeline = FramePipeline(settings, load_models(settings))
    detector_hash = sha256(MODELS / "yolo-v9-t-416-license-plates-end2end1.onnx")[:12]
    assert pipeline.models.detector == f"yolo-v9-t-416-license-plates-end2end1@{detector_hash}"
    assert pipeline.models.reader == f"cct_xs_v2_global@{sha256(MODELS / 'cct_xs_v2_global.onnx')[:12]}"
    frame, _ = _ro_frame_and_boxes()
    (plates,) = pipeline.recognizer.recognize([frame])
    now = datetime.now(UTC)
    meta = FrameHeaders(
        frame_id="cam-1:1",
        camera_id="cam-1",
        facility_id="fac-1",
        lane="lane-1",
        direction="entry",
        captured_at=now,
        ingested_at=now,
    )
    reads = reads_for_frame(meta, plates, pipeline.models, now, 0.5, 85, 3, 4)
    assert reads and all(r.models == pipeline.models for r in reads)


def test_a_bad_backend_setting_is_one_line(tmp_path):
    from tests.conftest import run_cli

    proc = run_cli(
        "eval",
        "--dataset",
        str(tmp_path),
        "--format",
        "crops",
        env={"ALPR_RECOGNIZER_READER": "tesseract", "ALPR_DATA_DIR": str(tmp_path)},
    )
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "ALPR_RECOGNIZER_READER" in lines[0], proc.stderr


@needs_us
def test_eval_with_a_missing_models_dir_is_one_line(tmp_path):
    from tests.conftest import run_cli

    proc = run_cli(
        "eval",
        "--dataset",
        str(US_CROPS),
        "--format",
        "crops",
        "--backend",
        "fast-alpr",
        env={"ALPR_MODELS_DIR": str(tmp_path / "none"), "ALPR_DATA_DIR": str(tmp_path)},
    )
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "cct_xs_v2_global.onnx not found" in lines[0] and "alpr models fetch" in lines[0]


def test_models_fetch_uses_the_packages_download_functions(tmp_path, monkeypatch, capsys):
    import urllib.error

    import fast_plate_ocr.inference.hub as reader_hub
    import open_image_models.detection.core.hub as detector_hub

    from alpr_app.cli import main

    calls = []

    def fake_detector(name, save_directory=None, force_download=False):
        calls.append(("detector", name, save_directory))
        return save_directory / "yolo-v9-t-416-license-plates-end2end.onnx"

    def fake_reader(name, save_directory=None, force_download=False):
        calls.append(("reader", name, save_directory))
        return save_directory / f"{name}.onnx", save_directory / f"{name}.yaml"

    monkeypatch.setattr(detector_hub, "download_model", fake_detector)
    monkeypatch.setattr(reader_hub, "download_model", fake_reader)
    monkeypatch.setenv("ALPR_DATA_DIR", str(tmp_path))
    assert main(["models", "fetch"]) == 0
    target = tmp_path / "models"
    assert calls == [
        ("detector", "yolo-v9-t-416-license-plate-end2end", target),
        ("reader", "cct-xs-v2-global-model", target),
        ("reader", "cct-xs-v1-global-model", target),
    ]
    assert len(capsys.readouterr().out.splitlines()) == 5

    def offline(name, save_directory=None, force_download=False):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(detector_hub, "download_model", offline)
    assert main(["models", "fetch", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot download" in err and "ALPR_MODELS_DIR" in err


@needs_models
def test_bench_models_runs_each_backend_in_its_own_replica_against_the_peer(tmp_path):
    from alpr_app.models.bench_models import PEER, run_bench

    result = run_bench(
        ["project-yolo-onnx+cct-onnx"],
        tmp_path,
        synthetic=2,
        real=1,
        rounds=2,
        batch=2,
        real_dir=RO_VAL,
        progress=lambda _: None,
    )
    assert set(result["backends"]) == {"project-yolo-onnx+cct-onnx", PEER}
    assert result["frames"] == 3 and result["synthetic_frames"] == 2 and result["real_frames"] == 1
    peer = result["backends"][PEER]
    assert peer["frames_per_s_vs_peer"] == 1.0 and len(peer["rounds_ms"]) == 2
    for row in result["backends"].values():
        assert row["ms_per_frame"] > 0 and row["peak_rss_mb"] > 0
    with pytest.raises(ConfigError, match="unknown backend"):
        run_bench(["tesseract"], tmp_path)


@needs_models
def test_the_default_reader_reports_calibrated_confidences():
    from services.recognizer.models.backends import build_reader
    from services.recognizer.models.calibration import load_calibration
    from services.recognizer.models.recognizer import WEIGHTS_DIR
    from services.recognizer.settings import RecognizerSettings

    default = RecognizerSettings.model_fields["reader"].default
    reader = build_reader(default, device="cpu", weights_dir=WEIGHTS_DIR, models_dir=MODELS)
    # weights/calibration.json was fitted for these exact files; a new model file needs a refit.
    assert load_calibration(reader.name) is not None, f"no calibration for {reader.name}: refit (calibrate.py --fit)"
