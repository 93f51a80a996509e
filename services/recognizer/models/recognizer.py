"""Frames in, plate reads out: detector, crop, reader, for a batch of frames at once."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from services.recognizer.models.calibration import Calibration
from services.recognizer.models.fusion import CascadeDetector, weighted_vote
from services.recognizer.models.images import DEFAULT_MAX_PIXELS, BadImageError, as_bgr
from services.recognizer.models.protocols import PlateDetector, PlateRead, PlateReader, TextRead

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
DETECTOR_WEIGHTS = "detector.pt"
READER_WEIGHTS = "reader.pt"


@dataclass(frozen=True)
class Cut:
    """One view of a detected plate for the reader: the box grown by `pad` of its size per
    side and, when `tilt_deg` is set, turned by that many degrees about the box centre
    (counter-clockwise positive) so a plate tilted the other way reads level."""

    pad: float
    tilt_deg: float = 0.0


# Each plate is read from these cuts of the detector's box and the texts vote (weighted by
# confidence). The first cut is the evidence crop and is never tilted: evidence keeps the
# camera's pixels, not a resampled view. Chosen on two synthetic tuning sets (HARD seeds
# 8001 + 8002, 1,124 plates), never on the reported test set, through `Recognizer` itself:
# * straight cuts at pads 0.03, 0 and 0.06 (the earlier default): 1,089 plates read
#   perfectly; looser straight cuts (>= 0.08) read worse.
# * 0.03 and 0 straight plus 0.03 turned by -t and +t degrees: 1,096 (t = 6), 1,093 (8),
#   1,098 (10). Tilted plates were a third of the tuning sets' misreads: the axis-aligned
#   box of a plate tilted 10-15 degrees shows the reader slanted characters. Each t read
#   more plates on each tuning set separately (8001: 366 -> 368-371 of 377; 8002:
#   723 -> 725-728 of 747), so the gain is not the best pick of many on one set.
CUTS = (Cut(0.03), Cut(0.0), Cut(0.03, -10.0), Cut(0.03, 10.0))
# The other cuts are read only for plates whose first cut reads below this. On the synthetic
# tuning set (HARD seed 8001, 150 frames, 377 plates, cascade detector), every cut always
# against this rule at 0.95: CCT 80.1 / 80.4% perfect, in 0.7x the time (135 -> 97 ms/image);
# CRNN 98.1 / 97.9% (one plate), 315 -> 208 ms/image (a training job shared the machine).
# 0.995 since 2026-12-04, for the fallback reader (CCT first, the CRNN where it doubts):
# a first cut read at 0.95-0.995 is often one reader's misread the other cuts outvote (JMG491
# read JHG491 at 0.986 on the first cut, JMG491 on the other three). Perfect reads, 0.95 ->
# 0.995: synthetic tuning sets 8001 / 8002 368 -> 371 / 723 -> 725; real US crops pasted in
# real frames (seeds 1 / 2) 357 -> 358 / 350 -> 355; Argentine composites unchanged (143 of
# 150); real Romanian reads fitting their format 109 -> 110 of 130. It reads the other cuts of
# about twice as many plates (16% of synthetic plates, 21% of the real composites' against
# 8% / 12%); docs/benchmarks-models.md has the speed.
MORE_CUTS_BELOW = 0.995


class Recognizer:
    """Runs a `PlateDetector` and a `PlateReader` over batches of BGR frames.

    Every frame is validated and converted first (gray, BGRA, 16-bit are accepted; empty or
    oversized frames raise `BadImageError` naming the frame's index), then all frames go
    through the detector in one call and all crops (every plate, every view in `cuts`)
    through the reader in one call; with `more_cuts_below`, every plate's first cut in one
    call, then the other cuts of the plates read below it in a second.

    With a `calibration` (calibration.py), each plate's reported confidence is its final
    read's raw confidence mapped through it, as the last step: every decision inside (more
    cuts, the fallback reader, the cascade's fallback detector) was tuned on raw confidences.
    Per-character confidences stay the reader's own.
    """

    def __init__(
        self,
        detector: PlateDetector,
        reader: PlateReader,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        cuts: Sequence[Cut] = CUTS,
        more_cuts_below: float | None = None,
        calibration: Calibration | None = None,
    ):
        if not cuts:
            raise ValueError("cuts needs at least one Cut")
        if cuts[0].tilt_deg:
            raise ValueError("the first cut is the evidence crop and must not be tilted")
        self.detector = detector
        self.reader = reader
        self.max_pixels = max_pixels
        self.cuts = tuple(cuts)
        self.more_cuts_below = more_cuts_below
        self.calibration = calibration

    @property
    def reader_name(self) -> str:
        """The reader as named in every read: its models, and whether its confidence is calibrated."""
        name = getattr(self.reader, "name", "reader")
        return f"{name}~{self.calibration.tag}" if self.calibration is not None else name

    def warmup(self) -> None:
        """Run both models once so the first real frame does not pay for lazy initialization."""
        self.detector.warmup()
        self.reader.warmup()

    def recognize(self, images: Sequence[np.ndarray]) -> list[list[PlateRead]]:
        """Per frame, the plates found in it (possibly none), in detector order."""
        frames = []
        for i, img in enumerate(images):
            try:
                frames.append(as_bgr(img, self.max_pixels))
            except BadImageError as err:
                raise BadImageError(f"frame {i}: {err}") from None
        cascade = self.detector if isinstance(self.detector, CascadeDetector) else None
        detections = (cascade.primary if cascade else self.detector).detect(frames)
        ran: dict[int, list] = {}
        if cascade is not None:
            detections, ran = cascade.refine(frames, detections)
        out = self._read(frames, detections)
        if cascade is not None:
            # The fallback detector for the frames the primary's boxes or their reads leave in
            # doubt; only its new boxes are read (merge keeps the primary's boxes first).
            # A frame it already ran on to refine a large box (`ran`) keeps its other plates too.
            which = [
                i
                for i, plates in enumerate(out)
                if i in ran or cascade.doubtful(detections[i], max((p.confidence for p in plates), default=0.0))
            ]
            merged = cascade.add_fallback(frames, detections, which, ran)
            # Boxes add_fallback changed (joined with the fallback's) or added are read now; an
            # unchanged primary box keeps its read, a replaced one's read is dropped.
            extra = self._read(frames, [[d for d in merged[i] if d not in detections[i]] for i in range(len(frames))])
            joined = []
            for i in range(len(frames)):
                read_of = dict(zip(detections[i], out[i]))
                new = iter(extra[i])
                joined.append([read_of[d] if d in read_of else next(new) for d in merged[i]])
            out = joined
        if self.calibration is not None:
            out = [
                [replace(p, confidence=self.calibration(p.confidence)) if p.text else p for p in plates]
                for plates in out
            ]
        return out

    def _read(self, frames: Sequence[np.ndarray], detections: Sequence[Sequence]) -> list[list[PlateRead]]:
        """Every box of every frame read from its cuts, all crops of a pass through the reader at once.

        With `more_cuts_below` set, the first cut is read alone and the other cuts only for the
        plates whose first read is below it (their reads then vote together)."""
        owners = [(i, det) for i, dets in enumerate(detections) for det in dets]
        if not owners:
            return [[] for _ in frames]
        first = [cut(frames[i], det.box, self.cuts[0].pad) for i, det in owners]
        rest = (
            [[cut(frames[i], det.box, c.pad, c.tilt_deg) for c in self.cuts[1:]] for i, det in owners]
            if self.more_cuts_below is None
            else None
        )
        if rest is not None:  # every cut of every plate, in one reader call
            ballots = self._ballots([[f, *r] for f, r in zip(first, rest)])
        else:
            # The first cut's (read, weight) are kept and vote again with the other cuts' when the
            # first read is doubtful: no crop is read twice.
            ballots = self._ballots([[c] for c in first])
            more = [n for n, b in enumerate(ballots) if weighted_vote(b).confidence < self.more_cuts_below]
            if more and len(self.cuts) > 1:
                others = [
                    [cut(frames[owners[n][0]], owners[n][1].box, c.pad, c.tilt_deg) for c in self.cuts[1:]]
                    for n in more
                ]
                for n, extra in zip(more, self._ballots(others)):
                    ballots[n] = ballots[n] + extra
        out: list[list[PlateRead]] = [[] for _ in frames]
        for n, (i, det) in enumerate(owners):
            read = weighted_vote(ballots[n])
            out[i].append(
                PlateRead(
                    read.text,
                    read.confidence,
                    read.char_confidences,
                    det.box,
                    first[n],  # evidence crop
                    det.confidence,
                    border_px(det.box, frames[i].shape),
                )
            )
        return out

    def _ballots(self, views: Sequence[Sequence[np.ndarray]]) -> list[list[tuple[TextRead, float]]]:
        """Per plate, the (read, vote weight) of every view (cut) by every reader, in one reader call."""
        crops = [c for v in views for c in v]
        bounds = np.cumsum([0] + [len(v) for v in views])
        read_all = getattr(self.reader, "read_all", None)
        if read_all is not None:
            # Several readers (fusion.VoteReader): every reader's read of every cut votes together.
            groups = read_all(crops)
            return [[r for g in groups[a:b] for r in g] for a, b in zip(bounds[:-1], bounds[1:])]
        reads = self.reader.read(crops)
        return [[(r, 1.0) for r in reads[a:b]] for a, b in zip(bounds[:-1], bounds[1:])]


def vote(reads: Sequence[TextRead]) -> TextRead:
    """One reader's reads of a plate's cuts: `fusion.weighted_vote` with equal weights."""
    return weighted_vote([(r, 1.0) for r in reads])


def border_px(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> int:
    """Pixels between the box and the nearest border of a frame of `shape` (0: touching it)."""
    x, y, w, h = box
    return max(0, min(x, y, shape[1] - (x + w), shape[0] - (y + h)))


def cut(frame: np.ndarray, box: tuple[int, int, int, int], pad: float, tilt_deg: float = 0.0) -> np.ndarray:
    """The box grown by `pad` of its size on every side (a copy); straight cuts are clipped
    to the frame. A tilted cut is the plate's own rectangle, turned by `tilt_deg`: the box
    of a plate tilted by t degrees is larger than the plate, so the size of the rectangle
    that fills the box when turned by t is solved for (kept as the box when the solution
    is implausibly thin), then sampled level, with the frame's edge pixels repeated
    outside it."""
    x, y, w, h = box
    H, W = frame.shape[:2]
    if not tilt_deg:
        x0, x1 = max(0, int(x - pad * w)), min(W, int(np.ceil(x + w + pad * w)))
        y0, y1 = max(0, int(y - pad * h)), min(H, int(np.ceil(y + h + pad * h)))
        return frame[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)].copy()
    import cv2

    a = np.deg2rad(abs(tilt_deg))
    c, s = np.cos(a), np.sin(a)
    # w = pw*c + ph*s and h = pw*s + ph*c, solved for the plate's width pw and height ph.
    pw, ph = (w * c - h * s) / (c * c - s * s), (h * c - w * s) / (c * c - s * s)
    if pw < 0.5 * w or ph < 0.3 * h:
        pw, ph = float(w), float(h)
    ow, oh = max(1, int(round(pw * (1 + 2 * pad)))), max(1, int(round(ph * (1 + 2 * pad))))
    cx, cy = x + w / 2, y + h / 2
    m = cv2.getRotationMatrix2D((cx, cy), tilt_deg, 1.0)
    m[0, 2] += ow / 2 - cx
    m[1, 2] += oh / 2 - cy
    return cv2.warpAffine(frame, m, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def pick_device(device: str = "auto") -> str:
    """'auto' means the first CUDA device when torch sees one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def load_recognizer(
    weights_dir: str | None = None,
    device: str = "auto",
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    detector_imgsz: int | None = None,
    detector_conf: float | None = None,
    correct: bool | None = None,
    detector="project-yolo",
    reader="project-crnn",
    models_dir: str | os.PathLike | None = None,
    more_cuts_below: float | None = MORE_CUTS_BELOW,
    calibrate: bool = True,
) -> Recognizer:
    """A `Recognizer` of the chosen backends (backends.py): by default the project's trained
    detector and reader (FP16 on CUDA, FP32 on CPU). `detector` and `reader` are preset names
    (`ALPR_RECOGNIZER_DETECTOR`, `ALPR_RECOGNIZER_READER`) or typed specs; the pretrained ONNX models come from
    `models_dir` (model_files.resolve_models_dir). `more_cuts_below`: see MORE_CUTS_BELOW (1 or
    None: every cut of every plate). `detector_imgsz`, `detector_conf` and
    `correct` override the project models' own settings when given. `calibrate`: report the
    calibrated confidence when weights/calibration.json has a fit for exactly this reader's models."""
    from services.recognizer.models.backends import build_detector, build_reader
    from services.recognizer.models.model_files import resolve_models_dir

    weights_dir = weights_dir or WEIGHTS_DIR
    device = pick_device(device)
    models = resolve_models_dir(models_dir)
    det = build_detector(
        detector, device=device, weights_dir=weights_dir, models_dir=models, imgsz=detector_imgsz, conf=detector_conf
    )
    rd = build_reader(reader, device=device, weights_dir=weights_dir, models_dir=models, correct=correct)
    if more_cuts_below is not None and more_cuts_below >= 1.0:
        more_cuts_below = None  # every cut of every plate
    calibration = None
    if calibrate:
        from services.recognizer.models.calibration import load_calibration

        calibration = load_calibration(rd.name)
    return Recognizer(det, rd, max_pixels=max_pixels, more_cuts_below=more_cuts_below, calibration=calibration)
