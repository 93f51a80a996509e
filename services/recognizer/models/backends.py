"""Model backends behind `PlateDetector` / `PlateReader`, chosen by configuration.

Each backend is a typed spec with a `type` discriminator (like frigate's detector plugins):

| detector `type` | what |
|---|---|
| `project-yolo` | the project's ultralytics YOLOv8n (`weights/detector.pt`) |
| `project-yolo-onnx` | the same weights exported to ONNX, on ONNX Runtime (no torch in the replica; yolo_onnx.py) |
| `yolov9-onnx` | open-image-models YOLOv9-t 416 plate detector, ONNX Runtime, from the models dir |
| `fused` | the boxes of several detectors merged (fusion.merge) |
| `cascade` | the project's detector, and the pretrained one only on frames it leaves in doubt (fusion.CascadeDetector) |

| reader `type` | what |
|---|---|
| `project-crnn` | the project's CRNN + CTC (`weights/reader.pt`) |
| `project-crnn-onnx` | the same weights exported to ONNX, on ONNX Runtime (no torch in the replica; crnn_onnx.py) |
| `cct-onnx` | a fast-plate-ocr CCT reader, ONNX Runtime, from the models dir (v2 global by default) |
| `vote` | several readers, their texts voted with the plate's other cuts |
| `fallback` | the CCT reader, and the project's CRNN for the crops it doubts (fusion.FallbackReader) |

The pipeline's default is `cascade` + `fallback` (services/recognizer/settings.py).
`ALPR_RECOGNIZER_DETECTOR` / `ALPR_RECOGNIZER_READER` name a preset (`DETECTOR_PRESETS`, `READER_PRESETS`);
code may pass a spec (or a dict with `type`) instead. `alpr eval --backend` takes a named
pair (`BACKENDS`) or `DETECTOR+READER`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from alpr.errors import ConfigError


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectYoloSpec(_Spec):
    type: Literal["project-yolo"] = "project-yolo"
    weights: str = "detector.pt"
    imgsz: int = Field(512, ge=128, le=2048)
    conf: float = Field(0.25, ge=0.0, le=1.0)


class ProjectYoloOnnxSpec(_Spec):
    type: Literal["project-yolo-onnx"] = "project-yolo-onnx"
    weights: str = "detector.pt"
    imgsz: int = Field(512, ge=128, le=2048)
    conf: float = Field(0.25, ge=0.0, le=1.0)


class YoloV9OnnxSpec(_Spec):
    type: Literal["yolov9-onnx"] = "yolov9-onnx"
    model: str | None = Field(None, description="file in the models dir; default: the 416 px int8, else fp32 file")
    conf: float = Field(0.25, ge=0.0, le=1.0)


class FusedDetectorSpec(_Spec):
    type: Literal["fused"] = "fused"
    # The first part's boxes are kept where both find a plate: the project's boxes read best
    # on the synthetic set (measured: yolov9 first lost 0.8 points of capture there).
    parts: tuple[DetectorSpec, ...] = (ProjectYoloSpec(), YoloV9OnnxSpec())
    iou: float = Field(0.4, gt=0.0, le=1.0)


class CascadeDetectorSpec(_Spec):
    type: Literal["cascade"] = "cascade"
    primary: DetectorSpec = ProjectYoloOnnxSpec()
    fallback: DetectorSpec = YoloV9OnnxSpec()
    # Chosen on plates-ro-detect val (the one real detection set; fusion.CascadeDetector).
    box_below: float = Field(0.7, ge=0.0, le=1.0, description="run the fallback when the frame's best box scores below")
    read_below: float = Field(0.9, ge=0.0, le=1.0, description="... or when its best read is below this confidence")
    iou: float = Field(0.4, gt=0.0, le=1.0)
    # Chosen on real US plates pasted into real dash-cam frames and the synthetic tuning sets
    # (fusion.CascadeDetector; docs/benchmarks-models.md): 0.045 is 58 px of a 1280 px frame.
    refine_taller: float | None = Field(
        0.045,
        gt=0.0,
        le=1.0,
        description="a primary box at least this tall (fraction of the frame's longer side) that scores below "
        "refine_below makes the fallback run, to join its box with the fallback's; null: never",
    )
    refine_below: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="wherever the fallback runs, a primary box scoring below this is joined with the fallback's "
        "box of its plate (score-weighted mean, or the fallback's box when the primary's is a fragment of it)",
    )


class ProjectCrnnSpec(_Spec):
    type: Literal["project-crnn"] = "project-crnn"
    weights: str = "reader.pt"
    correct: bool = True
    threads: int | None = Field(None, ge=1, le=64, description="torch threads (the process's); default: torch's")


class ProjectCrnnOnnxSpec(_Spec):
    type: Literal["project-crnn-onnx"] = "project-crnn-onnx"
    weights: str = "reader.pt"
    correct: bool = True
    threads: int | None = Field(None, ge=1, le=64, description="ONNX Runtime intra-op threads; default: its own")


class CctOnnxSpec(_Spec):
    type: Literal["cct-onnx"] = "cct-onnx"
    model: str = "cct_xs_v2_global.onnx"
    config: str | None = Field(None, description="plate_config YAML; default <model stem>_plate_config.yaml")
    round_zero: bool = Field(True, description="US plates (region head): round character as 0 (alpr.plates)")
    margin: float = Field(0.08, ge=0.0, le=0.5, description="replicated border added to each crop (fraction per side)")
    source: Literal["models", "project"] = Field(
        "models", description="models: the pretrained models dir; project: the committed weights folder"
    )


class VoteReaderSpec(_Spec):
    type: Literal["vote"] = "vote"
    parts: tuple[ReaderSpec, ...] = (CctOnnxSpec(), ProjectCrnnSpec())
    weights: tuple[float, ...] | None = None
    calibration: tuple[tuple[float, float], ...] | None = Field(
        None, description="per part, a Platt fit (a, b) of P(correct | confidence) from calibrate.py"
    )


class FallbackReaderSpec(_Spec):
    type: Literal["fallback"] = "fallback"
    primary: ReaderSpec = CctOnnxSpec()
    # The CRNN on ONNX Runtime, one thread: 3.8 ms for 6 crops against 13.0 on torch with one
    # thread (on torch's default two, loaded, it read 45-109 ms per crop in these small batches),
    # and no torch in the replica (crnn_onnx.py).
    fallback: ReaderSpec = ProjectCrnnOnnxSpec(threads=1)
    below: float = Field(0.98, ge=0.0, le=1.0, description="the fallback reads the crops the primary reads below this")
    at_least: float = Field(0.95, ge=0.0, le=1.0, description="... and replaces the primary's read when this sure")
    fallback_anywhere: bool = Field(
        False,
        description="false: outside the regions the project's CRNN was trained for (alpr.plates.PATTERN_REGIONS) "
        "its read replaces the primary's only when it is a US or Argentine serial or has no digit (rule E, "
        "fusion.FallbackReader); true: in every region",
    )


DetectorSpec = Annotated[
    ProjectYoloSpec | ProjectYoloOnnxSpec | YoloV9OnnxSpec | FusedDetectorSpec | CascadeDetectorSpec,
    Field(discriminator="type"),
]
ReaderSpec = Annotated[
    ProjectCrnnSpec | ProjectCrnnOnnxSpec | CctOnnxSpec | VoteReaderSpec | FallbackReaderSpec,
    Field(discriminator="type"),
]
FusedDetectorSpec.model_rebuild()
CascadeDetectorSpec.model_rebuild()
VoteReaderSpec.model_rebuild()
FallbackReaderSpec.model_rebuild()

DETECTOR_PRESETS: dict[str, object] = {
    "project-yolo": ProjectYoloSpec(),
    "project-yolo-onnx": ProjectYoloOnnxSpec(),
    "yolov9-onnx": YoloV9OnnxSpec(),
    "fused": FusedDetectorSpec(),
    "cascade": CascadeDetectorSpec(),
}
READER_PRESETS: dict[str, object] = {
    "project-crnn": ProjectCrnnSpec(),
    "project-crnn-onnx": ProjectCrnnOnnxSpec(),
    "cct-onnx": CctOnnxSpec(),
    "cct-v1-onnx": CctOnnxSpec(model="cct_xs_v1_global.onnx"),
    # The v2 reader fine-tuned here on synthetic US plates (finetune_reader.py, weights/MODEL_CARD.md):
    # synthetic crops 80.0 -> 86.1%, plates-us-ocr-val 94.0 -> 93.2%; not the default for that loss.
    "cct-us": CctOnnxSpec(model="cct_us.onnx", source="project"),
    "fallback-us": FallbackReaderSpec(primary=CctOnnxSpec(model="cct_us.onnx", source="project")),
    "vote": VoteReaderSpec(),
    "fallback": FallbackReaderSpec(),
    # Platt fits from `python -m alpr_app.models.calibrate --tuning <HARD seed 8001, 150 frames>
    # --datasets ../shared/datasets` (1,605 tuning reads per reader: synthetic cuts + plates-ar-ocr train side),
    # 2026-12-01 22:25 UTC; fitted for cct_xs_v2_global@8031afb5fdc6 (round_zero on) and crnn-ctc@d69802be2103,
    # before the CCT reader's 8% crop margin (22:40 UTC): refit before relying on it.
    "vote-calibrated": VoteReaderSpec(calibration=((0.7722, -1.1277), (0.8047, -1.1364))),
}
# Named detector + reader pairs for `alpr eval --backend`.
BACKENDS = {
    "project": ("project-yolo", "project-crnn"),
    "fast-alpr": ("yolov9-onnx", "cct-onnx"),
    "fused": ("fused", "vote"),
}

_detector_adapter = TypeAdapter(DetectorSpec)
_reader_adapter = TypeAdapter(ReaderSpec)


def _spec(kind: str, presets: dict[str, object], adapter: TypeAdapter, value) -> BaseModel:
    if isinstance(value, str):
        if value not in presets:
            raise ConfigError(f"unknown {kind} {value!r} (one of {', '.join(presets)})")
        return presets[value]
    return value if isinstance(value, BaseModel) else adapter.validate_python(value)


def detector_spec(value) -> BaseModel:
    """A preset name, a dict with `type`, or a spec -> the detector spec."""
    return _spec("detector", DETECTOR_PRESETS, _detector_adapter, value)


def reader_spec(value) -> BaseModel:
    """A preset name, a dict with `type`, or a spec -> the reader spec."""
    return _spec("reader", READER_PRESETS, _reader_adapter, value)


def split_backend(name: str) -> tuple[str, str]:
    """`alpr eval --backend`: a name in BACKENDS or 'DETECTOR+READER' -> (detector, reader)."""
    if name in BACKENDS:
        return BACKENDS[name]
    det, plus, rd = name.partition("+")
    if not plus or det not in DETECTOR_PRESETS or rd not in READER_PRESETS:
        raise ConfigError(
            f"unknown backend {name!r}: one of {', '.join(BACKENDS)}, or DETECTOR+READER with a "
            f"detector of {', '.join(DETECTOR_PRESETS)} and a reader of {', '.join(READER_PRESETS)}"
        )
    return det, rd


def _project_file(weights_dir: str, name: str, hint: str) -> str:
    path = os.path.join(weights_dir, name)
    if not os.path.exists(path):
        raise ConfigError(f"model weights {path} not found (run `{hint}`)")
    return path


def build_detector(
    spec, *, device: str, weights_dir: str, models_dir: Path, imgsz: int | None = None, conf: float | None = None
):
    spec = detector_spec(spec)
    if spec.type == "project-yolo":
        from services.recognizer.models.yolo_detector import YoloPlateDetector

        path = _project_file(weights_dir, spec.weights, "alpr train detector")
        return YoloPlateDetector(
            path, device=device, imgsz=imgsz or spec.imgsz, conf=spec.conf if conf is None else conf
        )
    if spec.type == "project-yolo-onnx":
        from services.recognizer.models.yolo_onnx import YoloOnnxDetector

        path = _project_file(weights_dir, spec.weights, "alpr train detector")
        return YoloOnnxDetector(
            path, device=device, imgsz=imgsz or spec.imgsz, conf=spec.conf if conf is None else conf
        )
    if spec.type == "yolov9-onnx":
        from services.recognizer.models.onnx_models import YoloV9OnnxDetector

        return YoloV9OnnxDetector(models_dir, spec.model, device=device, conf=spec.conf)
    if spec.type == "cascade":
        from services.recognizer.models.fusion import CascadeDetector

        parts = [
            build_detector(p, device=device, weights_dir=weights_dir, models_dir=models_dir, imgsz=imgsz, conf=conf)
            for p in (spec.primary, spec.fallback)
        ]
        return CascadeDetector(
            *parts,
            box_below=spec.box_below,
            read_below=spec.read_below,
            iou=spec.iou,
            refine_taller=spec.refine_taller,
            refine_below=spec.refine_below,
        )
    from services.recognizer.models.fusion import FusedDetector

    return FusedDetector(
        [
            build_detector(p, device=device, weights_dir=weights_dir, models_dir=models_dir, imgsz=imgsz, conf=conf)
            for p in spec.parts
        ],
        iou=spec.iou,
    )


def build_reader(spec, *, device: str, weights_dir: str, models_dir: Path, correct: bool | None = None):
    spec = reader_spec(spec)
    if spec.type == "project-crnn":
        from services.recognizer.models.crnn_reader import CrnnPlateReader

        path = _project_file(weights_dir, spec.weights, "alpr train reader")
        return CrnnPlateReader(
            path, device=device, correct=spec.correct if correct is None else correct, threads=spec.threads
        )
    if spec.type == "project-crnn-onnx":
        from services.recognizer.models.crnn_onnx import CrnnOnnxReader

        path = _project_file(weights_dir, spec.weights, "alpr train reader")
        return CrnnOnnxReader(
            path, device=device, correct=spec.correct if correct is None else correct, threads=spec.threads
        )
    if spec.type == "cct-onnx":
        from services.recognizer.models.onnx_models import CctOnnxReader

        folder = Path(weights_dir) if spec.source == "project" else models_dir
        return CctOnnxReader(
            folder, spec.model, spec.config, device=device, round_zero=spec.round_zero, margin=spec.margin
        )
    if spec.type == "fallback":
        from alpr.plates import PATTERN_REGIONS
        from services.recognizer.models.fusion import FallbackReader

        primary = build_reader(
            spec.primary, device=device, weights_dir=weights_dir, models_dir=models_dir, correct=correct
        )
        # A fallback with a format correction of its own (the CRNN) is built without it: the
        # fallback reader applies it, where the primary's region has the patterns (rule D).
        own = getattr(spec.fallback, "correct", None)
        wants = own if correct is None else correct and own is not None
        fallback = build_reader(
            spec.fallback,
            device=device,
            weights_dir=weights_dir,
            models_dir=models_dir,
            correct=False if own is not None else correct,
        )
        return FallbackReader(
            primary,
            fallback,
            below=spec.below,
            at_least=spec.at_least,
            correct_in=PATTERN_REGIONS if wants else None,
            trusted_in=None if spec.fallback_anywhere else PATTERN_REGIONS,
        )
    from services.recognizer.models.fusion import VoteReader

    return VoteReader(
        [
            build_reader(p, device=device, weights_dir=weights_dir, models_dir=models_dir, correct=correct)
            for p in spec.parts
        ],
        spec.weights,
        spec.calibration,
    )
