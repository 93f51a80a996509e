"""Plate detection and reading models behind small protocols (`PlateDetector`, `PlateReader`).

Typical use in the service::

    recognizer = load_recognizer(device="auto")   # trained weights from ./weights
    recognizer.warmup()                            # before reporting healthy
    reads = recognizer.recognize([decode_image(jpeg_bytes)])

Importing this package is cheap: torch and ultralytics load when a model is built.
"""

from services.recognizer.models.images import DEFAULT_MAX_PIXELS, BadImageError, as_bgr, decode_image
from services.recognizer.models.protocols import Detection, PlateDetector, PlateRead, PlateReader, TextRead
from services.recognizer.models.recognizer import WEIGHTS_DIR, Recognizer, load_recognizer, pick_device

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "BadImageError",
    "Detection",
    "PlateDetector",
    "PlateRead",
    "PlateReader",
    "Recognizer",
    "TextRead",
    "WEIGHTS_DIR",
    "as_bgr",
    "decode_image",
    "load_recognizer",
    "pick_device",
]


def __getattr__(name: str):
    # The concrete models pull in torch/ultralytics, so they load on first use only.
    if name == "YoloPlateDetector":
        from services.recognizer.models.yolo_detector import YoloPlateDetector

        return YoloPlateDetector
    if name == "CrnnPlateReader":
        from services.recognizer.models.crnn_reader import CrnnPlateReader

        return CrnnPlateReader
    raise AttributeError(name)
