"""The recognizer with the committed weights, on the CPU, on rendered frames."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from alpr.synth import CLEAN, render_scene
from alpr_app.models.evaluate import iou
from services.recognizer.models import (
    BadImageError,
    PlateDetector,
    PlateRead,
    PlateReader,
    Recognizer,
    load_recognizer,
)
from services.recognizer.models.recognizer import CUTS, Cut, cut


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    rec = load_recognizer(device="cpu")
    rec.warmup()
    return rec


def _matched(reads: list[PlateRead], box) -> PlateRead | None:
    best = max(reads, key=lambda r: iou(r.bbox, box), default=None)
    return best if best is not None and iou(best.bbox, box) >= 0.4 else None


def test_models_satisfy_the_protocols(recognizer):
    assert isinstance(recognizer.detector, PlateDetector)
    assert isinstance(recognizer.reader, PlateReader)


def test_reads_rendered_plates(recognizer):
    conditions = replace(CLEAN, plate_width=(130, 220))
    # One batch may mix cameras: frame sizes and orientations differ.
    sizes = ((1280, 720), (640, 480), (800, 1200), (1280, 720))
    scenes = [
        render_scene(np.random.default_rng(seed), w, h, 1, conditions) for seed, (w, h) in zip((11, 12, 13, 14), sizes)
    ]
    results = recognizer.recognize([s.image for s in scenes])
    assert len(results) == len(scenes)
    for scene, reads in zip(scenes, results):
        label = scene.plates[0]
        read = _matched(reads, label.box)
        assert read is not None, f"{label.text} not found"
        assert read.text == label.text
        assert len(read.char_confidences) == len(read.text)
        assert 0.0 < read.confidence == min(read.char_confidences) <= 1.0
        assert read.crop.ndim == 3 and read.crop.shape[2] == 3
        x, y, w, h = read.bbox
        H, W = scene.image.shape[:2]
        assert read.border_px == min(x, y, W - x - w, H - y - h) > 4
        # The evidence crop is the first, straight cut: the camera's own pixels.
        assert np.array_equal(read.crop, cut(scene.image, read.bbox, CUTS[0].pad))


def test_a_plate_cut_off_by_the_frame_border_says_so(recognizer):
    # A vehicle entering the view shows half its plate: the box ends at the frame's border,
    # and the service publishes such a box as 'unreadable' (services/recognizer/frames.py).
    scene = render_scene(np.random.default_rng(21), 1280, 720, 1, replace(CLEAN, plate_width=(160, 200)))
    x, y, w, h = scene.plates[0].box
    [reads] = recognizer.recognize([scene.image[: y + h // 2]])
    assert reads and all(r.border_px == 0 for r in reads)


def _tilted_plate(angle: float) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A white 200x100 plate turned by `angle` degrees (counter-clockwise) on black, and its box."""
    frame = np.zeros((400, 600, 3), np.uint8)
    corners = cv2.boxPoints(((300.0, 200.0), (200.0, 100.0), -angle)).astype(np.int32)
    cv2.fillPoly(frame, [corners], (255, 255, 255))
    return frame, cv2.boundingRect(corners)


def test_a_tilted_cut_levels_a_tilted_plate():
    frame, box = _tilted_plate(10.0)
    level = cut(frame, box, 0.0, -10.0)
    assert abs(level.shape[1] - 200) <= 3 and abs(level.shape[0] - 100) <= 3  # the plate's own size
    assert (level > 128).mean() > 0.97  # all plate, no background corners
    assert (cut(frame, box, 0.0) > 128).mean() < 0.8  # the straight box has them
    assert (cut(frame, box, 0.0, 10.0) > 128).mean() < 0.9  # turned the wrong way: 20 degrees off
    # A box too flat to hold a plate tilted that far (no positive plate height solves it)
    # is cut at the box's own size.
    assert cut(frame, (200, 150, 200, 100), 0.0, 30.0).shape[:2] == (100, 200)


def test_cuts_are_checked(recognizer):
    with pytest.raises(ValueError, match="at least one"):
        Recognizer(recognizer.detector, recognizer.reader, cuts=())
    with pytest.raises(ValueError, match="evidence crop"):
        Recognizer(recognizer.detector, recognizer.reader, cuts=(Cut(0.03, 10.0), Cut(0.0)))


def test_twenty_plates_in_one_frame(recognizer):
    scene = render_scene(np.random.default_rng(2020), 1280, 720, 20, replace(CLEAN, plate_width=(70, 110)))
    assert len(scene.plates) == 20
    [reads] = recognizer.recognize([scene.image])
    matched = [_matched(reads, p.box) for p in scene.plates]
    assert sum(m is not None for m in matched) >= 19
    assert sum(m is not None and m.text == p.text for m, p in zip(matched, scene.plates)) >= 18
    for r in reads:
        x, y, w, h = r.bbox
        assert 0 <= x and 0 <= y and x + w <= 1280 and y + h <= 720 and w > 0 and h > 0


def test_gray_and_bgra_frames_read_like_colour(recognizer):
    scene = render_scene(np.random.default_rng(11), 1280, 720, 1, replace(CLEAN, plate_width=(130, 220)))
    gray = cv2.cvtColor(scene.image, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(scene.image, cv2.COLOR_BGR2BGRA)
    texts = [[r.text for r in reads] for reads in recognizer.recognize([scene.image, gray, bgra])]
    assert scene.plates[0].text in texts[0]
    assert texts[1] == texts[0] and texts[2] == texts[0]


def test_empty_frame_has_no_plates(recognizer):
    assert recognizer.recognize([np.full((480, 640, 3), 90, np.uint8)]) == [[]]
    assert recognizer.recognize([]) == []


def test_bad_frame_names_its_index(recognizer):
    good = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(BadImageError, match="frame 1: zero-size"):
        recognizer.recognize([good, np.zeros((0, 100, 3), np.uint8)])
    small = Recognizer(recognizer.detector, recognizer.reader, max_pixels=5000)
    with pytest.raises(BadImageError, match="frame 0: image too large"):
        small.recognize([good])


def test_vote_weighs_agreement_by_confidence():
    from services.recognizer.models.protocols import TextRead
    from services.recognizer.models.recognizer import vote

    a = TextRead("8ABC123", 0.9, (0.9,) * 7)
    b1 = TextRead("8ABC128", 0.5, (0.5,) * 7)
    b2 = TextRead("8ABC128", 0.6, (0.6,) * 7)
    assert vote([a, b1, b2]) is b2  # 1.1 beats 0.9; the surer of the two represents
    assert vote([a, b1]) is a


def test_model_names_carry_the_weights_hash(recognizer):
    import hashlib

    from services.recognizer.models.recognizer import DETECTOR_WEIGHTS, READER_WEIGHTS, WEIGHTS_DIR

    for model, file in ((recognizer.detector, DETECTOR_WEIGHTS), (recognizer.reader, READER_WEIGHTS)):
        digest = hashlib.sha256(open(f"{WEIGHTS_DIR}/{file}", "rb").read()).hexdigest()[:12]
        base, _, suffix = model.name.partition("@")
        assert base in ("yolov8n-plates", "crnn-ctc") and suffix == digest
