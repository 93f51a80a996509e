"""The recognizer's reported confidence as P(read right) (services/recognizer/models/calibration.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alpr.errors import ConfigError
from services.recognizer.models.calibration import CALIBRATION_FILE, Calibration, fit_isotonic, load_calibration
from services.recognizer.models.protocols import Detection, TextRead
from services.recognizer.models.recognizer import Recognizer


def test_isotonic_fit_rises_and_never_claims_certainty():
    rng = np.random.default_rng(7)
    conf = rng.uniform(0.0, 1.0, 4000)
    right = rng.uniform(size=conf.size) < conf**3  # a reader over-confident everywhere
    fit = fit_isotonic(conf, right)
    assert list(fit.probabilities) == sorted(set(fit.probabilities))  # strictly rising steps
    assert 0.0 < fit(0.0) < fit(0.5) < fit(0.99) < 1.0
    # Mapped probabilities track the truth (c^3), not the raw confidence.
    for c in (0.5, 0.8, 0.95):
        assert fit(c) == pytest.approx(c**3, abs=0.08)
    # 200 right reads at the top: (200 + 1) / (200 + 2), not 1.0.
    top = fit_isotonic([0.2] * 50 + [0.99] * 200, [False] * 50 + [True] * 200)
    assert top(0.999) == pytest.approx(201 / 202) and top(0.1) == pytest.approx(1 / 52)


def test_lower_bound_fit_reports_what_each_step_supports():
    from services.recognizer.models.calibration import wilson_lower

    # 200 right of 200 at 2 standard deviations: 200 / 204, below the smoothed 201 / 202.
    assert wilson_lower(200, 200, 2.0) == pytest.approx(200 / 204)
    top = fit_isotonic([0.2] * 50 + [0.99] * 200, [False] * 50 + [True] * 200, z=2.0)
    assert top(0.999) == pytest.approx(200 / 204) and top(0.1) < 1 / 52
    # Five right reads above 100 reads right 90%: alone they would claim 0.57-1.0; their lower
    # bound (0.57) lies below the large step's (0.83), so they are pooled into it.
    conf = [0.1] * 20 + [0.9] * 100 + [0.99] * 5
    right = [False] * 20 + [True] * 90 + [False] * 10 + [True] * 5
    fit = fit_isotonic(conf, right, z=2.0)
    assert fit(0.99) == fit(0.9) == pytest.approx(wilson_lower(95, 105, 2.0))
    assert fit(0.99) < 95 / 105
    with pytest.raises(ValueError, match="standard deviations"):
        fit_isotonic(conf, right, z=0.0)


def test_isotonic_fit_pools_steps_the_smoothing_puts_out_of_order():
    # Raw, 0 of 1 (0.0) lies below 20 of 100 (0.2); smoothed, 1/3 would lie above 21/102.
    conf = [0.1] + [0.5] * 100 + [0.9] * 10
    right = [False] + [True] * 20 + [False] * 80 + [True] * 10
    fit = fit_isotonic(conf, right)
    assert fit(0.1) == fit(0.5) == pytest.approx(21 / 103)
    assert fit(0.9) == pytest.approx(11 / 12)
    assert list(fit.probabilities) == sorted(fit.probabilities)


def test_isotonic_fit_needs_right_and_wrong_reads():
    with pytest.raises(ValueError, match="both right and wrong"):
        fit_isotonic([0.5, 0.9], [True, True])
    with pytest.raises(ValueError, match="at least one read"):
        fit_isotonic([], [])
    with pytest.raises(ValueError, match="rise"):
        Calibration((0.5, 0.9), (0.8, 0.3))


class OneBox:
    name = "one-box"

    def detect(self, images):
        return [[Detection((10, 10, 60, 20), 0.9)] for _ in images]

    def warmup(self):
        pass


class Counting:
    """Reads every crop as ABC123 at `confidence`, counting the crops it was given."""

    name = "counting"

    def __init__(self, confidence):
        self.confidence, self.crops = confidence, 0

    def read(self, crops):
        self.crops += len(crops)
        return [TextRead("ABC123", self.confidence, (self.confidence,) * 6) for _ in crops]

    def warmup(self):
        pass


def test_recognizer_reports_the_calibrated_confidence_and_decides_on_the_raw_one():
    frame = np.zeros((100, 200, 3), np.uint8)
    # Raw 0.96 is above more_cuts_below (0.95): one crop per plate. The calibration says such a
    # read is right 50% of the time; the recognizer reports 0.5 but still reads one cut only.
    cal = Calibration((0.0, 0.9, 0.99), (0.1, 0.5, 0.99), tag="calibrated@test")
    reader = Counting(0.96)
    rec = Recognizer(OneBox(), reader, more_cuts_below=0.95, calibration=cal)
    ((plate,),) = rec.recognize([frame])
    assert plate.confidence == 0.5 and plate.char_confidences == (0.96,) * 6
    assert reader.crops == 1
    assert rec.reader_name == "counting~calibrated@test"
    raw = Recognizer(OneBox(), Counting(0.96), more_cuts_below=0.95)
    assert raw.recognize([frame])[0][0].confidence == 0.96 and raw.reader_name == "counting"


def test_calibration_file_is_found_by_the_readers_exact_name(tmp_path):
    path = tmp_path / "calibration.json"
    assert load_calibration("fallback(a@1|b@2)", str(path)) is None  # no file: raw confidences
    path.write_text(
        json.dumps(
            {
                "pipelines": [
                    {"reader": "fallback(a@1|b@2)", "fitted": "2026-12-02", "steps": [[0.0, 0.2], [0.99, 0.995]]}
                ]
            }
        )
    )
    cal = load_calibration("fallback(a@1|b@2)", str(path))
    assert cal(0.5) == 0.2 and cal(0.995) == 0.995 and cal.tag == "calibrated@2026-12-02"
    # Another file hash is another model with confidences of its own: no fit applies.
    assert load_calibration("fallback(a@9|b@2)", str(path)) is None
    path.write_text('{"pipelines": [{"reader": "fallback(a@1|b@2)", "steps": [[0.5')
    with pytest.raises(ConfigError, match="calibration file .* unreadable.*refit"):
        load_calibration("fallback(a@1|b@2)", str(path))


def test_the_committed_fit_is_valid_and_keeps_reads_at_0_9_right_99_percent_on_held_data():
    with open(CALIBRATION_FILE) as f:
        entries = json.load(f)["pipelines"]
    assert entries, "weights/calibration.json has no fit"
    for e in entries:
        cal = load_calibration(e["reader"])
        assert cal is not None and cal.probabilities[-1] < 1.0
        held = e["calibrated_held_cross_validated"]["at_or_above_0.9"]
        assert held["right"] >= 0.99 and held["share_of_reads"] >= 0.75, e["reader"]
        # Real plates in real frames, through the whole recognizer: what later stages see.
        frames = e["calibrated_held_frames_cross_validated"]["at_or_above_0.9"]
        assert frames["right"] >= 0.99 and frames["share_of_reads"] >= 0.75, e["reader"]


def test_fit_reader_holds_frames_out_by_plate_text_and_measures_each_fold_unseen(tmp_path):
    import zlib

    import cv2

    from alpr_app.models.calibrate import fit_reader
    from alpr_app.models.evaluate import LabelledImage
    from services.recognizer.models.protocols import PlateRead

    box = (10, 10, 40, 12)

    def frames(texts):
        out = []
        for n, t in enumerate(texts):
            path = tmp_path / f"{t}-{n}.jpg"
            cv2.imwrite(str(path), np.zeros((48, 64, 3), np.uint8))
            out.append(LabelledImage(str(path), ((box, t),)))
        return out

    # The plate each frame holds is in its file name; the recognizer reads it right unless it
    # is one of `wrong`, always at raw 0.99 (tuning frames at 0.5 and 0.99).
    class Reads:
        calibration = None

        def __init__(self):
            self.wrong: set[str] = set()

        def recognize(self, images):
            (text,) = self.pending.pop(0)
            read = "X" if text in self.wrong else text
            return [[PlateRead(read, 0.5 if text.startswith("T") else 0.99, (), box, None, 0.9, 5)]]

    texts = [f"H{n:03d}" for n in range(60)]
    folds = {t: zlib.crc32(t.encode()) % 2 for t in texts}
    rec = Reads()
    rec.wrong = {t for t in texts if folds[t] == 0}  # every plate of fold 0 misread at 0.99
    tuning = frames([f"T{n:03d}" for n in range(20)])
    held = frames(texts)
    rec.pending = [[it.plates[0][1]] for it in tuning + held]

    class NoCrops:
        def read(self, crops):
            return []

    rec.wrong |= {f"T{n:03d}" for n in range(10)}
    result = fit_reader(rec, NoCrops(), tuning, [], [], held_items=held)
    frames_cv = result["calibrated_held_frames_cross_validated"]
    # Each fold is measured with the fit of the other: fold 0 (all wrong at 0.99) with one that
    # saw 0.99 right, so its misreads show at >= 0.9; fold 1 with one that saw 0.99 wrong. A fit
    # that had seen the fold itself would put 0.99 near 50% and show neither.
    top = frames_cv["at_or_above_0.9"]
    assert top["reads"] == sum(f == 0 for f in folds.values()) > 0 and top["right"] == 0.0
    assert result["reads"] == len(tuning) + len(texts)
