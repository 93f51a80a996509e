"""The cascade detector (fusion.CascadeDetector): the fallback runs only on doubtful frames.

The parts here are small recording detectors and readers that satisfy the protocols, so the
test can see which frames reached the fallback; the real models' figures are in
docs/benchmarks-models.md (plates-ro-detect val) and test_backends.py.
"""

from __future__ import annotations

import numpy as np

from services.recognizer.models import Recognizer
from services.recognizer.models.fusion import CascadeDetector
from services.recognizer.models.protocols import Detection, TextRead


class Boxes:
    """A detector that answers each frame by its first pixel's value (the frame's key)."""

    def __init__(self, name: str, by_key: dict[int, list[Detection]]):
        self.name, self.by_key, self.seen = name, by_key, []

    def detect(self, images):
        keys = [int(img[0, 0, 0]) for img in images]
        self.seen.append(keys)
        return [list(self.by_key.get(k, [])) for k in keys]

    def warmup(self):
        pass


class Reads:
    """A reader whose confidence is the crop's second pixel / 100 (set per box region)."""

    name = "reads"

    def read(self, crops):
        return [TextRead("ABC123", float(c[0, 0, 1]) / 100, (1.0,) * 6) for c in crops]

    def warmup(self):
        pass


def _frame(key: int, read_conf: int = 99) -> np.ndarray:
    img = np.zeros((200, 400, 3), np.uint8)
    img[..., 0] = key
    img[..., 1] = read_conf
    return img


CONFIDENT = Detection((10, 10, 80, 40), 0.9)
WEAK = Detection((10, 10, 80, 40), 0.4)
SAME_AS_FIRST = Detection((20, 14, 80, 40), 0.8)  # IoU 0.65 with the first
ELSEWHERE = Detection((250, 120, 90, 45), 0.7)


def test_fallback_runs_only_on_frames_the_primary_leaves_in_doubt():
    primary = Boxes("p", {1: [CONFIDENT], 2: [WEAK], 3: []})
    fallback = Boxes("f", {1: [SAME_AS_FIRST, ELSEWHERE], 2: [SAME_AS_FIRST, ELSEWHERE], 3: [ELSEWHERE]})
    cascade = CascadeDetector(primary, fallback, box_below=0.7)
    assert cascade.name == "cascade(p|f)"
    confident, weak, empty = cascade.detect([_frame(1), _frame(2), _frame(3)])
    assert fallback.seen == [[2, 3]]  # the confident frame never reached it
    assert confident == [CONFIDENT]
    # The fallback's copy of the weak box is the same plate: the two joined, weighted by score.
    assert weak == [Detection((17, 13, 80, 40), 0.4), ELSEWHERE]
    # A join that barely moves the box (IoU >= 0.9 with its own) keeps the box, and its read.
    nudged = CascadeDetector(Boxes("p", {2: [WEAK]}), Boxes("f", {2: [Detection((12, 11, 80, 40), 0.8)]}))
    assert nudged.detect([_frame(2)]) == [[WEAK]]
    assert empty == [ELSEWHERE]
    assert cascade.detect([]) == [] and fallback.seen == [[2, 3]]


def test_recognizer_calls_the_fallback_for_a_confident_box_that_reads_as_nothing_sure():
    primary = Boxes("p", {1: [CONFIDENT], 2: [CONFIDENT]})
    fallback = Boxes("f", {1: [ELSEWHERE], 2: [ELSEWHERE]})
    rec = Recognizer(CascadeDetector(primary, fallback, box_below=0.7, read_below=0.9), Reads())
    sure, unsure = rec.recognize([_frame(1, read_conf=99), _frame(2, read_conf=50)])
    assert fallback.seen == [[2]]
    assert [r.bbox for r in sure] == [CONFIDENT.box]
    # The fallback's new box is read and reported after the primary's, with its own score.
    assert [r.bbox for r in unsure] == [CONFIDENT.box, ELSEWHERE.box]
    assert [r.detection_confidence for r in unsure] == [0.9, 0.7]
    assert all(r.text == "ABC123" for r in unsure)


def test_without_a_read_threshold_only_boxes_decide():
    primary = Boxes("p", {1: [CONFIDENT]})
    fallback = Boxes("f", {1: [ELSEWHERE]})
    rec = Recognizer(CascadeDetector(primary, fallback, box_below=0.7, read_below=0.0), Reads())
    (reads,) = rec.recognize([_frame(1, read_conf=10)])
    assert fallback.seen == [] and [r.bbox for r in reads] == [CONFIDENT.box]


LARGE = Detection((10, 10, 120, 60), 0.75)  # 60 px tall in a 400 px frame: at least refine_taller 0.15
LARGE_LOOSE = Detection((30, 14, 140, 60), 0.8)  # the fallback's box of the same plate


def test_a_large_box_is_averaged_with_the_fallbacks_box_of_the_plate_and_the_fallback_runs_once():
    primary = Boxes("p", {1: [LARGE], 2: [CONFIDENT]})
    fallback = Boxes("f", {1: [LARGE_LOOSE, ELSEWHERE], 2: [ELSEWHERE]})
    cascade = CascadeDetector(primary, fallback, box_below=0.7, read_below=0.9, refine_taller=0.15, refine_below=0.8)
    rec = Recognizer(cascade, Reads())
    large, small = rec.recognize([_frame(1, read_conf=50), _frame(2, read_conf=99)])
    # Frame 1 reached the fallback for its large box and, read at 0.5, is doubtful too: the
    # fallback's boxes found for the refinement are merged, not detected a second time.
    assert fallback.seen == [[1]]
    assert [r.bbox for r in large] == [(20, 12, 130, 60), ELSEWHERE.box]
    assert [r.detection_confidence for r in large] == [0.75, 0.7]  # the primary's score is kept
    assert [r.bbox for r in small] == [CONFIDENT.box]  # 40 px tall: not refined, not doubtful


def test_a_large_box_the_primary_is_sure_of_is_not_refined():
    sure = Detection(LARGE.box, 0.85)
    primary = Boxes("p", {1: [sure]})
    fallback = Boxes("f", {1: [LARGE_LOOSE]})
    cascade = CascadeDetector(primary, fallback, box_below=0.7, refine_taller=0.15, refine_below=0.8)
    assert cascade.detect([_frame(1)]) == [[sure]] and fallback.seen == []


def test_refine_keeps_a_large_box_the_fallback_does_not_find_and_detect_refines_too():
    primary = Boxes("p", {1: [LARGE], 2: [LARGE]})
    fallback = Boxes("f", {1: [ELSEWHERE], 2: [LARGE_LOOSE]})
    cascade = CascadeDetector(primary, fallback, box_below=0.7, refine_taller=0.15, refine_below=0.8)
    alone, refined = cascade.detect([_frame(1), _frame(2)])
    assert fallback.seen == [[1, 2]]
    assert alone == [LARGE, ELSEWHERE]  # no box of the fallback overlaps it: kept as it is
    assert refined == [Detection((20, 12, 130, 60), 0.75)]
    off = CascadeDetector(Boxes("p", {1: [LARGE]}), Boxes("f", {1: [LARGE_LOOSE]}), box_below=0.7)
    assert off.detect([_frame(1)]) == [[LARGE]] and off.fallback.seen == []


FRAGMENT = Detection((40, 20, 40, 40), 0.3)  # the left part of a plate, boxed unsure
WHOLE = Detection((30, 10, 140, 70), 0.85)  # the pretrained detector's box of the whole plate


def test_a_fragment_is_replaced_by_the_fallbacks_box_and_read_once():
    primary = Boxes("p", {1: [FRAGMENT]})
    fallback = Boxes("f", {1: [WHOLE]})
    (reads,) = Recognizer(CascadeDetector(primary, fallback, box_below=0.7), Reads()).recognize([_frame(1)])
    # One read of the plate, from the whole box; the fragment's own read is dropped.
    assert [(r.bbox, r.detection_confidence) for r in reads] == [(WHOLE.box, 0.3)]


def test_fuse_box_keeps_a_box_that_is_no_fragment():
    from services.recognizer.models.fusion import fuse_box

    assert fuse_box(FRAGMENT, []) == FRAGMENT
    assert fuse_box(FRAGMENT, [Detection(WHOLE.box, 0.2)]) == FRAGMENT  # the larger box is less sure
    assert fuse_box(FRAGMENT, [Detection((40, 20, 50, 45), 0.9)]).box == (40, 20, 48, 44)  # IoU 0.71: joined, by score
    assert fuse_box(FRAGMENT, [ELSEWHERE]) == FRAGMENT
    assert fuse_box(Detection((0, 0, 100, 50), 0.0), [Detection((10, 0, 100, 50), 0.0)]).box == (5, 0, 100, 50)


def test_refine_taller_must_be_a_fraction_of_the_frame():
    import pytest

    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="fraction"):
            CascadeDetector(Boxes("p", {}), Boxes("f", {}), refine_taller=bad)


def test_eval_reports_a_reliability_curve():
    from alpr_app.models.evaluate import _Tally

    tally = _Tally()
    for conf, read in [(0.95, "ABC123"), (0.97, "ABC123"), (0.99, "ABC128"), (0.4, "XYZ"), (0.999, "ABC123")]:
        tally.add("ABC123", read, conf)
    tally.add("ABC123", None)  # not captured: no confidence to score
    curve = tally.reliability()
    assert curve["0.00-0.50"] == {"reads": 1, "right": 0.0}
    assert curve["0.95-0.99"] == {"reads": 2, "right": 1.0}  # 0.95 and 0.97: [0.95, 0.99)
    assert curve["0.99-1.00"] == {"reads": 2, "right": 0.5}
    assert curve["at_or_above_0.9"] == {"reads": 4, "right": 0.75, "share_of_reads": 0.8}


class CountingReads(Reads):
    def __init__(self):
        self.calls: list[int] = []

    def read(self, crops):
        self.calls.append(len(crops))
        return super().read(crops)


def test_other_cuts_are_read_only_for_doubtful_plates():
    img = _frame(1, read_conf=99)
    img[100:160, 200:320, 1] = 50  # the second plate's pixels read at 0.5
    detector = Boxes("p", {1: [Detection((10, 10, 80, 40), 0.9), Detection((220, 110, 80, 40), 0.9)]})
    reader = CountingReads()
    (reads,) = Recognizer(detector, reader, more_cuts_below=0.95).recognize([img])
    assert reader.calls == [2, 3]  # both first cuts, then the doubtful plate's three other cuts
    assert [r.confidence for r in reads] == [0.99, 0.5]
    reader.calls.clear()
    Recognizer(detector, reader).recognize([img])  # without the rule: every cut of every plate at once
    assert reader.calls == [8]


class Fixed:
    """A reader that answers each crop by its first pixel: {key: (text, confidence)}."""

    def __init__(self, name, answers):
        self.name, self.answers, self.seen = name, answers, []

    def read(self, crops):
        keys = [int(c[0, 0, 0]) for c in crops]
        self.seen.append(keys)
        return [
            TextRead(self.answers[k][0], self.answers[k][1], (self.answers[k][1],) * len(self.answers[k][0]))
            for k in keys
        ]

    def warmup(self):
        pass


def test_fallback_reader_asks_the_second_reader_only_about_doubted_crops():
    from services.recognizer.models.fusion import FallbackReader

    primary = Fixed("cct", {1: ("ABC123", 0.999), 2: ("A8C123", 0.6), 3: ("XYZ", 0.65)})
    second = Fixed("crnn", {2: ("ABC123", 0.99), 3: ("XY2", 0.8)})
    reader = FallbackReader(primary, second, below=0.98, at_least=0.95)
    assert reader.name == "fallback(cct|crnn)"
    crops = [np.full((4, 4, 3), k, np.uint8) for k in (1, 2, 3)]
    sure, replaced, kept = reader.read(crops)
    assert second.seen == [[2, 3]]
    assert (sure.text, replaced.text, kept.text) == ("ABC123", "ABC123", "XYZ")  # 0.8 < 0.95 and < 0.65 + 0.2
    assert replaced.confidence == 0.99


def test_a_fallback_read_takes_the_primarys_region_and_its_round_character_rule():
    from services.recognizer.models.fusion import FallbackReader

    class Regional(Fixed):
        def read(self, crops):
            from dataclasses import replace

            return [replace(r, region="United States") for r in super().read(crops)]

    primary = Regional("cct", {1: ("J0V", 0.6)})
    reader = FallbackReader(primary, Fixed("crnn", {1: ("JOY", 0.99)}))
    (read,) = reader.read([np.full((4, 4, 3), 1, np.uint8)])
    assert (read.text, read.region) == ("J0Y", "United States")
