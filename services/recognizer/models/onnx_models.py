"""The pretrained MIT plate models of the fast-alpr family, through their own packages on ONNX Runtime.

* `YoloV9OnnxDetector`: open-image-models' YOLOv9-t plate detector (`create_detector` on a
  local ONNX file; NMS inside the model, "end2end").
* `CctOnnxReader`: fast-plate-ocr's CCT readers (`LicensePlateRecognizer` on a local ONNX
  file and its plate_config YAML); one softmax per character slot, `_` pads the plate.

Both run on the CPU provider, or on CUDA when the device is cuda and onnxruntime-gpu is
installed (else on the CPU, with a warning). Files come from the models dir
(model_files.py); a missing or corrupt one is a one-line ConfigError.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alpr.plates import round_character
from services.recognizer.models.model_files import corrupt, find_model, versioned_file
from services.recognizer.models.protocols import Detection, TextRead

log = logging.getLogger(__name__)

YOLOV9_FILES = (
    "yolo-v9-t-416-license-plates-end2end1.onnx",  # the dynamic-int8 copy in ../shared/models
    "yolo-v9-t-416-license-plates-end2end.onnx",
)  # upstream fp32, what `alpr models fetch` gets
CCT_V2_FILE = "cct_xs_v2_global.onnx"
CCT_V1_FILE = "cct_xs_v1_global.onnx"


def providers_for(device: str) -> list:
    """ONNX Runtime providers for a torch-style device string ('cpu', 'cuda', 'cuda:1')."""
    import onnxruntime as ort

    if device.startswith("cuda"):
        if "CUDAExecutionProvider" in ort.get_available_providers():
            index = int(device.partition(":")[2] or 0)
            return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
        log.warning(
            "device %s asked for, but this onnxruntime has no CUDA provider (install onnxruntime-gpu); "
            "running the ONNX models on the CPU",
            device,
        )
    return ["CPUExecutionProvider"]


def _session_options(threads: int | None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # The CPU arena keeps the largest batch's buffers for the life of the session: beside the
    # torch models that held a replica (cascade + cct-onnx, 32 synthetic then 32 real frames) at a
    # peak of 1,654 MB against 1,508 MB without it, same speed within the machine's noise.
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 3  # warnings of the int8 graph's shape inference are noise
    # ONNX Runtime's threads busy-wait between runs by default; beside torch's threads (the fused
    # backends) and other replicas on a small CPU that only burns cores: on dev-2c, 24 frames of the
    # fast-alpr backend took 62-72 ms/frame without spinning against 62-111 with it (4 rounds each).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = threads
    return opts


def session(path, device: str, threads: int | None = None):
    """An ONNX Runtime session of the model file `path` on `device`, with this module's options;
    a truncated or foreign file is a one-line ConfigError naming it."""
    import onnxruntime as ort

    from services.recognizer.models.model_files import corrupt

    try:
        return ort.InferenceSession(str(path), _session_options(threads), providers=providers_for(device))
    except Exception as err:  # onnxruntime raises its own types for a truncated or foreign file
        raise corrupt(path, err) from None


def _clip_box(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> tuple[int, int, int, int] | None:
    x0, y0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    x1, y1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


class YoloV9OnnxDetector:
    """`PlateDetector` over open-image-models' YOLOv9 plate detector (BGR frames in, boxes in frame pixels)."""

    name = "yolov9-onnx"  # replaced per instance by <file stem>@<sha256 prefix>

    def __init__(
        self,
        models_dir: str | Path,
        model: str | None = None,
        device: str = "cpu",
        conf: float = 0.25,
        threads: int | None = None,
    ):
        from open_image_models import create_detector

        path = find_model(Path(models_dir), *((model,) if model else YOLOV9_FILES))
        self.name = versioned_file(path.stem, path)
        self.path = path
        self.providers = providers_for(device)
        try:
            self.model = create_detector(
                path,
                backend="yolo_v9",
                class_labels=("License Plate",),
                conf_thresh=conf,
                batch_size=8,
                providers=self.providers,
                sess_options=_session_options(threads),
            )
        except Exception as err:  # onnxruntime raises its own types for a truncated or foreign file
            raise corrupt(path, err) from None
        self.conf = conf

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not len(images):
            return []
        results = self.model.predict(list(images))
        out: list[list[Detection]] = []
        for img, dets in zip(images, results):
            h, w = img.shape[:2]
            found = []
            for d in dets:
                b = d.bounding_box
                box = _clip_box(b.x1, b.y1, b.x2, b.y2, w, h)
                if box is not None:
                    found.append(Detection(box, float(d.confidence)))
            out.append(sorted(found, key=lambda d: -d.confidence))
        return out

    def warmup(self) -> None:
        self.detect([np.zeros((720, 1280, 3), np.uint8)])


class CctOnnxReader:
    """`PlateReader` over a fast-plate-ocr CCT model: per-slot probabilities, pads dropped.

    `text` is the argmax per slot with every pad slot left out; `char_confidences` are the
    kept slots' probabilities. `confidence` is the lowest probability over all slots, pad
    slots included: a doubtful pad is a doubtful plate length. With `round_zero` (default)
    and a model with a region head, a plate whose region is the United States has its round
    character written 0 (`alpr.plates.round_character`).

    Each crop is given a `margin` of replicated border (a fraction of its width and height on
    every side) before it is resized: the CCT models were trained on loose detector crops and
    read tight ones worse. Measured on plates-us-ocr-val / plates-ar-ocr (all 147), v2 reader:
    no margin 89.8 / 91.8%, 0.03: 92.4 / 96.6%, 0.05: 93.4 / 95.2%, **0.08: 93.4 / 95.9%**,
    0.12: 93.7 / 95.2%, 0.16: 94.0 / 95.2%; cutting into the crop instead (4%) fell to 69%. 0.08
    sits in the middle of the plateau on both sets rather than at either set's best.
    """

    name = "cct-onnx"  # replaced per instance by <file stem>@<sha256 prefix>

    def __init__(
        self,
        models_dir: str | Path,
        model: str = CCT_V2_FILE,
        config: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        threads: int | None = None,
        round_zero: bool = True,
        margin: float = 0.08,
    ):
        from fast_plate_ocr import LicensePlateRecognizer
        from fast_plate_ocr.inference.config import PlateConfig

        models_dir = Path(models_dir)
        path = find_model(models_dir, model)
        config_path = find_model(models_dir, config or f"{Path(model).stem}_plate_config.yaml")
        self.name = versioned_file(path.stem, path)
        self.path = path
        self.providers = providers_for(device)
        try:
            PlateConfig.from_yaml(config_path)
        except Exception as err:  # not YAML, or not a plate config
            raise corrupt(config_path, err) from None
        try:
            self.model = LicensePlateRecognizer(
                onnx_model_path=path,
                plate_config_path=config_path,
                providers=self.providers,
                sess_options=_session_options(threads),
            )
        except Exception as err:  # onnxruntime raises its own types for a truncated or foreign file
            raise corrupt(path, err) from None
        cfg = self.model.config
        self.alphabet, self.pad = cfg.alphabet, cfg.pad_char
        self.rgb = cfg.image_color_mode == "rgb"
        self.round_zero = round_zero
        self.margin = margin
        # Some exports take one crop per call (a fixed batch dimension of 1).
        dim = self.model.model.get_inputs()[0].shape[0]
        self.batch_size = dim if isinstance(dim, int) and dim > 0 else batch_size

    def _prepare(self, crop: np.ndarray) -> np.ndarray | None:
        import cv2

        if not isinstance(crop, np.ndarray) or crop.ndim not in (2, 3) or crop.size == 0:
            return None
        if crop.dtype != np.uint8:
            from services.recognizer.models.images import BadImageError, as_bgr

            try:
                crop = as_bgr(crop)
            except BadImageError:
                return None
        if crop.ndim == 2 or crop.shape[2] == 1:
            crop = cv2.cvtColor(crop.reshape(crop.shape[:2]), cv2.COLOR_GRAY2BGR)
        elif crop.shape[2] == 4:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGRA2BGR)
        elif crop.shape[2] != 3:
            return None
        if self.margin > 0:
            h, w = crop.shape[:2]
            dy, dx = int(round(h * self.margin)), int(round(w * self.margin))
            crop = cv2.copyMakeBorder(crop, dy, dy, dx, dx, cv2.BORDER_REPLICATE)
        return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB if self.rgb else cv2.COLOR_BGR2GRAY)

    def read(self, crops: Sequence[np.ndarray]) -> list[TextRead]:
        prepared = [self._prepare(c) for c in crops]
        good = [i for i, p in enumerate(prepared) if p is not None]
        out = [TextRead("", 0.0, ())] * len(prepared)
        for start in range(0, len(good), self.batch_size):
            idx = good[start : start + self.batch_size]
            preds = self.model.run([prepared[i] for i in idx], return_confidence=True, remove_pad_char=False)
            for i, p in zip(idx, preds):
                chars, confs = [], []
                for ch, prob in zip(p.plate, np.asarray(p.char_probs, dtype=float)):
                    if ch != self.pad:
                        chars.append(ch)
                        confs.append(float(prob))
                lowest = float(np.min(p.char_probs)) if chars else 0.0
                text = "".join(chars)
                if self.round_zero:
                    text = round_character(text, p.region)  # same length: confidences stay aligned
                out[i] = TextRead(text, lowest, tuple(confs), getattr(p, "region", None))
        return out

    def warmup(self) -> None:
        self.read([np.zeros((60, 120, 3), np.uint8)] * 4)
