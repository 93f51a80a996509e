"""Settings of the recognizer service (plate detection and reading)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from alpr.settings import ServiceSettings, shared

# The presets of services/recognizer/models/backends.py (kept here so that reading settings loads no model code).
DetectorName = Literal["project-yolo", "project-yolo-onnx", "yolov9-onnx", "fused", "cascade"]
ReaderName = Literal[
    "project-crnn",
    "project-crnn-onnx",
    "cct-onnx",
    "cct-v1-onnx",
    "cct-us",
    "vote",
    "vote-calibrated",
    "fallback",
    "fallback-us",
]


class RecognizerSettings(ServiceSettings):
    """Validated at start; each of its own fields has an `ALPR_RECOGNIZER_<FIELD>` environment variable, the
    shared ones (alpr.settings.CommonSettings) `ALPR_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="ALPR_RECOGNIZER_")

    http_port: int = Field(8002, ge=0, le=65535, description="Port of the recognizer API.")
    device: str = Field(
        "auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="Inference device; auto: first GPU, else CPU."
    )
    batch_max_frames: int = Field(16, ge=1, le=512, description="Most frames per inference batch.")
    batch_max_wait_ms: int = Field(50, ge=1, le=5000, description="Longest wait to fill a batch before running it.")
    max_frame_pixels: int = Field(40_000_000, ge=10_000, description="Frames larger than this go to the DLQ.")
    min_read_confidence: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Below this calibrated confidence (a lower bound of P(read right), weights/calibration.json) "
        "a plate box is published as 'unreadable'.",
    )
    min_plate_chars: int = Field(
        3, ge=1, le=10, description="A box read confidently as fewer characters is not a plate and is left out."
    )
    edge_margin_px: int = Field(
        4,
        ge=-1,
        le=100,
        description="A plate box this close to the frame's border (pixels) is taken as cut off by it and "
        "published as 'unreadable' (its text is a fragment); -1 reads such boxes like any other.",
    )
    more_cuts_below: float = Field(
        0.995,
        ge=0.0,
        le=1.0,
        description="A plate whose first cut reads below this confidence is read again from "
        "the other cuts (wider, tilted) and the reads vote; 1: every cut of every plate.",
    )
    crop_jpeg_quality: int = Field(85, ge=30, le=100, description="JPEG quality of the plate crop in each read.")
    context_width: int = Field(
        480,
        ge=0,
        le=1920,
        description="Width of the context frame (the whole frame, downscaled) on each read of a plate box: the "
        "vehicle in view for reviewers and appeals, kept with the pass for 365 days. 0: none.",
    )
    context_jpeg_quality: int = Field(60, ge=30, le=100, description="JPEG quality of the context frame.")
    detector_imgsz: int = Field(512, ge=128, le=2048, description="Detector input size (letterboxed).")
    weights_dir: Path | None = Field(
        None, description="Folder with detector.pt and reader.pt; default: the committed weights."
    )
    detector: DetectorName = Field(
        "cascade",
        description="Plate detector backend: project-yolo (the project's), yolov9-onnx (open-image-models, "
        "pretrained), fused (both, boxes merged) or cascade (the pretrained one on the frames the project's leaves in doubt); see services/recognizer/models/backends.py.",
    )
    reader: ReaderName = Field(
        "fallback",
        description="Plate reader backend: project-crnn (the project's; project-crnn-onnx: on ONNX Runtime), cct-onnx or cct-v1-onnx "
        "(fast-plate-ocr, pretrained), vote (cct-onnx and project-crnn voted) or fallback (cct-onnx, and "
        "project-crnn-onnx for the crops it doubts).",
    )
    models_dir: Path | None = Field(
        None,
        description="Folder with the pretrained ONNX models (yolov9-onnx, cct-onnx); default: <data_dir>/models "
        "when `alpr models fetch` filled it, else ../shared/models beside the repository. Shared: the model "
        "tools (alpr eval, alpr models) read the same variable.",
        validation_alias=shared("models_dir"),
    )
    consumer_group: str = Field("alpr-recognizer", min_length=1, description="Consumer group shared by all replicas.")
    decode: Literal["cpu"] = Field("cpu", description="Where JPEGs are decoded (GPU decode: see docs/architecture.md).")
    inject_misreads: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Test and demo fault: misread this share of (camera, plate) pairs, one character changed "
        "(services/recognizer/misreads.py), to show the review sample finds them. Refused in production.",
    )

    @model_validator(mode="after")
    def _no_injected_misreads_in_production(self):
        if self.inject_misreads and self.environment == "production":
            raise ValueError("inject_misreads is a test and demo fault: not in production")
        return self

    @model_validator(mode="after")
    def _batch_fits_the_wait(self):
        if self.batch_max_frames > 1 and self.batch_max_wait_ms < 2:
            raise ValueError("batch_max_wait_ms below 2 ms never fills a batch; use batch_max_frames=1")
        return self
