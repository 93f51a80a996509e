"""Fused backends: several detectors' boxes merged, several readers' texts voted.

Neither is calibrated: detector scores and reader probabilities of different models are
not on one scale, so the merge keeps boxes by detector priority (not by score) and the vote
sums each reader's own confidences, optionally weighted per reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from alpr.plates import correct_format, pattern_of, round_character, round_unpatterned
from services.recognizer.models.protocols import Box, Detection, PlateDetector, PlateReader, TextRead


def overlap(a: Box, b: Box) -> tuple[float, float]:
    """(IoU, intersection over the smaller box) of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    smaller = min(a[2] * a[3], b[2] * b[3])
    return (inter / union if union > 0 else 0.0), (inter / smaller if smaller > 0 else 0.0)


def merge(per_detector: Sequence[Sequence[Detection]], iou: float = 0.4, contain: float = 0.8) -> list[Detection]:
    """The union of several detectors' boxes for one frame, one box per plate.

    Boxes are taken detector by detector (the first detector's first), each detector's in
    its own order; a box is dropped when it overlaps one already kept by IoU >= `iou` or
    lies mostly inside it (intersection over the smaller box >= `contain`): the same plate.
    """
    kept: list[Detection] = []
    for dets in per_detector:
        for d in dets:
            if not any(o[0] >= iou or o[1] >= contain for o in (overlap(d.box, k.box) for k in kept)):
                kept.append(d)
    return kept


class FusedDetector:
    """`PlateDetector` that runs every part on the same frames and merges their boxes (`merge`)."""

    def __init__(self, parts: Sequence[PlateDetector], iou: float = 0.4, contain: float = 0.8):
        if len(parts) < 2:
            raise ValueError("a fused detector needs at least two detectors")
        self.parts = list(parts)
        self.iou, self.contain = iou, contain
        self.name = "fused(" + "+".join(p.name for p in self.parts) + ")"

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not len(images):
            return []
        results = [p.detect(images) for p in self.parts]
        return [merge([r[i] for r in results], self.iou, self.contain) for i in range(len(images))]

    def warmup(self) -> None:
        for p in self.parts:
            p.warmup()


def fuse_box(det: Detection, others: Sequence[Detection], iou: float = 0.4, contain: float = 0.8) -> Detection:
    """`det`, a box of the cascade's primary, joined with the fallback's boxes `others` of the
    same frame; its own score kept.

    * The box of `others` that overlaps it most, at IoU >= `iou`: the two boxes' mean, each
      weighted by its detector's score (weighted box fusion, as detector ensembles join boxes).
    * Else a box of `others` that scores higher, holds at least `contain` of it and is more
      than 1.5 times its area: that box. `det` is then a fragment of the plate, which the
      project's detector boxes on large real plates it is unsure of (`NMM` of a 374 px
      NMM840, at 0.31; the pretrained box 0.82).
    * Else `det` unchanged, as it is when the fallback's best box lies inside it and is under
      two thirds of its size: then the fallback's box is the fragment (the text band of a tall
      plate: a synthetic 82 x 57 px plate boxed 77 x 41 by the pretrained detector).
    """
    # overlap()'s second value is the share of the smaller box inside the other: with the
    # 1.5x size condition, the share of the fragment inside the whole.
    best = max(others, key=lambda o: overlap(det.box, o.box)[0], default=None)
    if best is None:
        return det
    area = det.box[2] * det.box[3]
    if area > 1.5 * best.box[2] * best.box[3] and overlap(det.box, best.box)[1] >= contain:
        return det  # the fallback's box is the fragment (a plate's text band): keep the whole
    if overlap(det.box, best.box)[0] >= iou:
        wa, wb = det.confidence, best.confidence
        if wa + wb <= 0:
            wa = wb = 1.0
        box = tuple(round((wa * a + wb * b) / (wa + wb)) for a, b in zip(det.box, best.box))
        return replace(det, box=box)  # type: ignore[arg-type]
    for other in sorted(others, key=lambda o: -o.confidence):
        if other.confidence <= det.confidence or other.box[2] * other.box[3] <= 1.5 * area:
            continue
        if overlap(det.box, other.box)[1] >= contain:
            return replace(det, box=other.box)
    return det


# Boxes this alike give the reader the same plate: a joined box is kept only when it moved more.
SAME_BOX_IOU = 0.9


class CascadeDetector:
    """`PlateDetector` that runs its `fallback` only on the frames where `primary` is doubtful.

    The project's detector finds every plate of the synthetic frames and most of real ones
    in half the time of running both detectors; the pretrained one finds the plates it
    misses (large plates filling a frame, real dash-cam plates). A frame is doubtful when its
    best box scores below `box_below` (or it has none); `detect` alone applies that rule. The
    `Recognizer` also calls the fallback when the frame's best read is below `read_below`
    (`doubtful`): a confident box on a grass strip or a sign reads as nothing confident.
    Boxes are merged as `FusedDetector` merges them, the primary's first.

    Measured on plates-ro-detect val (107 real frames, 131 plates; docs/benchmarks-models.md):
    primary alone 127, both always 130, fallback below box 0.7: 130 with the fallback run on
    63 frames (78 with the refinement below); on the synthetic HARD set (300 frames) it ran
    on 1 frame, capture unchanged.

    Boxes the primary is unsure of: wherever the fallback runs, a primary box scoring below
    `refine_below` is joined with the fallback's box of the same plate (`fuse_box`: their
    score-weighted mean, or the fallback's box when the primary's is a fragment inside it),
    and a box at least `refine_taller` of the frame's longer side tall makes the fallback run
    (`refine`). The project's detector, trained on synthetic frames, boxes a large real plate
    short and is unsure of it (the last character cut off: `CTH52` for CTH523, 394 px wide,
    box 0.77), the pretrained one boxes it loose (state names read as characters); their mean
    holds the whole plate, and the reader reads it. Height, not width: a long European plate
    115 px wide is 25 px tall, which the project's detector boxes well. Measured on real US
    plates pasted over the plates of real dash-cam frames (docs/benchmarks-models.md).
    """

    def __init__(
        self,
        primary: PlateDetector,
        fallback: PlateDetector,
        box_below: float = 0.7,
        read_below: float = 0.0,
        iou: float = 0.4,
        contain: float = 0.8,
        refine_taller: float | None = None,
        refine_below: float = 0.8,
    ):
        if refine_taller is not None and not 0.0 < refine_taller <= 1.0:
            raise ValueError("refine_taller is a fraction of the frame's longer side, in (0, 1]")
        self.primary, self.fallback = primary, fallback
        self.box_below, self.read_below = box_below, read_below
        self.iou, self.contain = iou, contain
        self.refine_taller, self.refine_below = refine_taller, refine_below
        self.name = f"cascade({primary.name}|{fallback.name})"

    def doubtful(self, dets: Sequence[Detection], best_read: float | None = None) -> bool:
        """True when a frame with these primary boxes (and best read confidence) needs the fallback."""
        if not dets or max(d.confidence for d in dets) < self.box_below:
            return True
        return best_read is not None and best_read < self.read_below

    def _large(self, image: np.ndarray, det: Detection) -> bool:
        """A box to refine: tall for its frame, and scored below `refine_below`."""
        return (
            self.refine_taller is not None
            and det.box[3] >= self.refine_taller * max(image.shape[:2])
            and det.confidence < self.refine_below
        )

    def _joined(self, dets: Sequence[Detection], extra: Sequence[Detection]) -> list[Detection]:
        """A frame's primary boxes, each scoring below `refine_below` joined with the fallback's
        boxes `extra` of the same frame (`fuse_box`)."""
        out = []
        for d in dets:
            j = fuse_box(d, extra, self.iou, self.contain) if d.confidence < self.refine_below else d
            # A join that barely moves the box is not worth reading the plate again for.
            out.append(j if overlap(j.box, d.box)[0] < SAME_BOX_IOU else d)
        return out

    def refine(
        self, images: Sequence[np.ndarray], dets: Sequence[Sequence[Detection]]
    ) -> tuple[list[list[Detection]], dict[int, list[Detection]]]:
        """The fallback run on the frames with a large box the primary is unsure of (`_large`),
        and those frames' unsure boxes joined with its boxes (`_joined`); returns the boxes and
        the fallback's boxes of the frames it ran on, by frame index, for `add_fallback`."""
        out = [list(d) for d in dets]
        which = [i for i, d in enumerate(out) if any(self._large(images[i], x) for x in d)]
        ran: dict[int, list[Detection]] = {}
        if which:
            for i, extra in zip(which, self.fallback.detect([images[i] for i in which])):
                ran[i] = list(extra)
                out[i] = self._joined(out[i], ran[i])
        return out, ran

    def add_fallback(
        self,
        images: Sequence[np.ndarray],
        dets: list[list[Detection]],
        which: Sequence[int],
        ran: dict[int, list[Detection]] | None = None,
    ) -> list[list[Detection]]:
        """The fallback's boxes for the frames `which`, merged into `dets` (new lists, same order):
        each primary box scoring below `refine_below` joined with the fallback's box of its
        plate (`fuse_box`), then the fallback's other plates added. `ran` holds the fallback's
        boxes of frames it already ran on (`refine`), not run again."""
        ran = ran or {}
        out = [list(d) for d in dets]
        todo = [i for i in which if i not in ran]
        found = dict(zip(todo, self.fallback.detect([images[i] for i in todo]))) if todo else {}
        for i in which:
            # `refine` already joined the boxes of the frames in `ran`.
            joined = out[i] if i in ran else self._joined(out[i], found[i])
            out[i] = merge([joined, ran[i] if i in ran else found[i]], self.iou, self.contain)
        return out

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not len(images):
            return []
        dets, ran = self.refine(images, self.primary.detect(images))
        # A frame the fallback ran on for a refinement keeps the plates it found besides: free.
        which = sorted({i for i, d in enumerate(dets) if self.doubtful(d)} | set(ran))
        return self.add_fallback(images, dets, which, ran)

    def warmup(self) -> None:
        self.primary.warmup()
        self.fallback.warmup()


class VoteReader:
    """`PlateReader` that reads every crop with every part; `read_all` gives all reads per crop
    (the `Recognizer` votes them together with the other cuts of the plate), `read` the vote
    per crop. `weights` scale each reader's confidences in the vote (default 1 each)."""

    def __init__(
        self,
        parts: Sequence[PlateReader],
        weights: Sequence[float] | None = None,
        calibration: Sequence[tuple[float, float]] | None = None,
    ):
        if len(parts) < 2:
            raise ValueError("a reader vote needs at least two readers")
        self.parts = list(parts)
        self.weights = tuple(weights) if weights else (1.0,) * len(self.parts)
        if len(self.weights) != len(self.parts) or min(self.weights) <= 0:
            raise ValueError("one positive weight per reader")
        # Per reader, a Platt fit (a, b) of P(correct | confidence) (calibrate.py): each
        # read's confidence becomes that probability before the vote.
        self.calibration = tuple(tuple(ab) for ab in calibration) if calibration else None
        if self.calibration is not None and len(self.calibration) != len(self.parts):
            raise ValueError("one calibration (a, b) per reader")
        self.name = "vote(" + "+".join(p.name for p in self.parts) + ")"

    def read_all(self, crops: Sequence[np.ndarray]) -> list[list[tuple[TextRead, float]]]:
        """Per crop, (read, vote weight) from every reader, in reader order."""
        reads = [p.read(crops) for p in self.parts]
        if self.calibration is not None:
            from services.recognizer.models.calibration import calibrated

            reads = [
                [replace(x, confidence=calibrated(x.confidence, ab)) if x.text else x for x in r]
                for r, ab in zip(reads, self.calibration)
            ]
        return [[(r[i], w) for r, w in zip(reads, self.weights)] for i in range(len(crops))]

    def read(self, crops: Sequence[np.ndarray]) -> list[TextRead]:
        return [weighted_vote(group) for group in self.read_all(crops)]

    def warmup(self) -> None:
        for p in self.parts:
            p.warmup()


class FallbackReader:
    """`PlateReader` that trusts `primary` and asks `fallback` only about the crops it doubts.

    A crop the primary reads below `below` is read by the fallback too, and the fallback's
    read replaces the primary's when it is at least `at_least` sure. The pretrained CCT reader
    is the primary: it reads real US plates (94% of plates-us-ocr-val against 44% for the
    project's CRNN) and is unsure where it is wrong on the synthetic plates (median 0.53),
    which the CRNN reads (96% of first cuts, against 81%). Chosen on plates-us-ocr-val and
    the synthetic tuning set (HARD seed 8001, first cuts) together, docs/benchmarks-models.md:
    below 0.98, at least 0.95 read 93.7 / 92.8% of them, CCT alone 94.0 / 81.4%, the CRNN
    alone 43.6 / 95.8%, the higher confidence of the two 90.8 / 95.8%.

    Three rules more (2026-12-03), each on by default:

    * A, `margin`: below `below`, the fallback's read is also taken when it is at least
      `margin_at_least` sure and `margin` surer than the primary's (e.g. the CCT at 0.55,
      the CRNN at 0.90). None: off.
    * B, `recheck_below` / `recheck_at_least`: a primary read in [`below`, `recheck_below`)
      is read by the fallback too, and replaced when the fallback is `recheck_at_least`
      sure: a CCT read that sure is still wrong on some synthetic plates, and a CRNN read
      at 0.999 rarely is. `recheck_below` equal to `below`: off.
    * C, `round_free_text`: a read that fits no known serial pattern has its round
      character written 0 (`alpr.plates.round_unpatterned`) in the United States and the
      regions the CCT's region head puts US vanity plates in (DOG, ZOOM, R0CK: Australia,
      New Zealand, Unknown), where the US rule (`round_character`) does not apply; European
      and South American reads keep their O (their serials have it).
    * D, `correct_in` (2026-12-04; the default reader passes `alpr.plates.PATTERN_REGIONS`
      and builds its fallback without its own correction): the fallback's read is fitted to
      a serial pattern (`alpr.plates.correct_format`) only where the primary's region head
      names a region whose patterns are known, or none. The CRNN's correction, blind to the
      region, forced US formats on European serials (B 37 RYO read 837RYO). On the real
      Romanian frames, reads that fit the Romanian format: 106 -> 109 of 130; every set with
      labels unchanged. None: the fallback's reads as they come.
    * E, `trusted_in` (2026-12-07; the default reader passes `alpr.plates.PATTERN_REGIONS`): where
      the primary's region head names a region outside `trusted_in`, the fallback's read is
      taken only if it is a plate of the kinds the fallback was trained on that the head
      misplaced: a serial of `alpr.plates.PATTERNS` (US, Argentine) or a text with no digit
      (US vanity; every European and South American serial carries digits). The project's
      CRNN was trained on synthetic US plates and Argentine crops only, and on the real
      Romanian frames its takes were wrong more often than right: `TR95XMI` read `IR95XM`,
      `B60HFI` read `B80HF`. By eye, with the rule: 3 of those plates right that were wrong,
      1 wrong that was right (`B577PRO`), 5 wrong either way; reads that fit the Romanian
      format 110 -> 113 of 130. Unchanged: synthetic tuning 371 / 725, plates-us-ocr-val 358,
      plates-ar-ocr 49 / 143, the US composites 358 / 355 / 359 and the Argentine ones 143 of
      150 (the no-digit clause keeps the synthetic vanity plates the head puts in Europe,
      `SURF`, `ETZKSHH`); the synthetic test set (seed 9001, read once) 704 -> 703 of 726
      (`SKY5I`, a vanity plate with a digit). None: the fallback's reads are taken in every
      region.

    The values (margin 0.2 and at least 0.5; recheck below 0.995 at 0.999) were chosen on the
    synthetic tuning sets (HARD seeds 8001 and 8002, the whole recognizer) and
    plates-us-ocr-val, never on the test set: on synthetic HARD seed 9001 (the test set) the
    default reads 706 of 726 plates perfectly (97.25%) against 690 (95.04%) without them;
    plates-us-ocr-val stays at 358 of 381 (94.0%), the plates-ar-ocr held-out crops at 49 of 50
    (all 147: 143, as before); reads >= 0.9 after calibration stay right 99.67% on
    plates-us-ocr-val (not cross-validated), 100% on the Argentine held-out crops, 98.9% on
    seed 9001; 0.98x the speed without them (noise). Rules that take the fallback only where
    the two reads differ by confusable characters lost 3-18 real US plates and were dropped.
    docs/benchmarks-models.md (2026-12-03) has the table.
    """

    def __init__(
        self,
        primary: PlateReader,
        fallback: PlateReader,
        below: float = 0.98,
        at_least: float = 0.95,
        margin: float | None = 0.2,
        margin_at_least: float = 0.5,
        recheck_below: float = 0.995,
        recheck_at_least: float = 0.999,
        round_free_text: bool = True,
        correct_in: frozenset[str] | None = None,
        trusted_in: frozenset[str] | None = None,
    ):
        self.primary, self.fallback = primary, fallback
        self.below, self.at_least = below, at_least
        self.margin, self.margin_at_least = margin, margin_at_least
        self.recheck_below, self.recheck_at_least = max(below, recheck_below), recheck_at_least
        self.round_free_text = round_free_text
        self.correct_in = correct_in
        self.trusted_in = trusted_in
        # The rules are not in the name: weights/calibration.json looks the reader up by it.
        self.name = f"fallback({primary.name}|{fallback.name})"

    def takes(self, first: TextRead, second: TextRead) -> bool:
        """True when the fallback's read `second` replaces the primary's `first`."""
        if not second.text:
            return False
        if first.confidence < self.below:
            if second.confidence >= self.at_least:
                return True
            if (
                self.margin is not None
                and second.confidence >= self.margin_at_least
                and second.confidence >= first.confidence + self.margin
            ):
                return True
        return first.confidence < self.recheck_below and second.confidence >= self.recheck_at_least

    def trusts(self, region: str | None, text: str) -> bool:
        """Rule E: whether the fallback may replace the primary's read of a plate of `region`."""
        if self.trusted_in is None or region is None or region in self.trusted_in:
            return True
        return pattern_of(text) is not None or not any(c.isdigit() for c in text)

    def read(self, crops: Sequence[np.ndarray]) -> list[TextRead]:
        reads = self.primary.read(crops)
        doubted = [i for i, r in enumerate(reads) if r.confidence < self.recheck_below]
        if doubted:
            for i, second in zip(doubted, self.fallback.read([crops[i] for i in doubted])):
                # A reader without a region head takes the primary's region, and with it the
                # round-character rule (alpr.plates): the CRNN reads synthetic vanity J0Y as JOY.
                region = second.region or reads[i].region
                if self.correct_in is not None and (region is None or region in self.correct_in):
                    second = replace(second, text=correct_format(second.text, second.char_confidences))
                if self.takes(reads[i], second) and self.trusts(region, second.text):
                    reads[i] = replace(second, text=round_character(second.text, region), region=region)
        if self.round_free_text:
            reads = [replace(r, text=round_unpatterned(r.text, r.region)) if "O" in r.text else r for r in reads]
        return reads

    def warmup(self) -> None:
        self.primary.warmup()
        self.fallback.warmup()


def weighted_vote(reads: Sequence[tuple[TextRead, float]]) -> TextRead:
    """The text with the largest sum of weight x confidence; its most confident read represents it.

    Texts vote as each reader wrote them: the round-character rule is the CCT reader's own
    (its region head), not applied to the other readers' texts, which cost the synthetic set
    a point (O letters turned into 0). Empty texts (nothing read) do not vote unless nothing
    else was read."""
    weight: dict[str, float] = {}
    for r, w in reads:
        if r.text or not any(x.text for x, _ in reads):
            weight[r.text] = weight.get(r.text, 0.0) + w * r.confidence
    winner = max(weight, key=lambda t: (weight[t], t))
    return max((r for r, _ in reads if r.text == winner), key=lambda r: r.confidence)
