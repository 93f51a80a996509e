"""A recognizer's reported confidence as the probability that the read is right.

A reader's own confidence (its weakest character's probability) is a ranking, not a
probability: the pretrained CCT reader reads 0.95-0.99 on plates it gets right 79% of the
time. Later stages trust a read at 0.9 (passes, matches, citations), so the plate's final
confidence is mapped through a monotone fit of P(read right | raw confidence), made for one
reader named with its files' hashes (a new model file has confidences of its own), fitted
on its reads through a whole recognizer (the detector's boxes, the cuts' vote) and of
labelled crops; the detector it was fitted with is recorded beside it. The fit is isotonic (pool adjacent violators: the best
monotone step function, no shape assumed), and each step reports the lower bound of its share
of right reads (Wilson, `LOWER_BOUND_Z` standard deviations) rather than the raw share, so a
step of 200 right reads says 0.98, not a certainty the data cannot give, and a small step
does not claim more than its reads support. A Platt fit (one sigmoid) was tried first and could not bend where the reader's
errors sit (docs/benchmarks-models.md).

The fits live in `weights/calibration.json`, written by `calibrate.py --fit ... --write`
with their data and cross-validated figures; a reader without an entry reports raw
confidences (a calibrated one says so in its name in every read: `...~calibrated@<date>`).
"""

from __future__ import annotations

import bisect
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from alpr.errors import ConfigError

CALIBRATION_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "calibration.json")


EPS = 1e-6


def logit(c: float) -> float:
    c = min(1.0 - EPS, max(EPS, c))
    return math.log(c / (1.0 - c))


def calibrated(c: float, ab: tuple[float, float]) -> float:
    z = ab[0] * logit(c) + ab[1]
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class Calibration:
    """A monotone step function: a raw confidence >= `starts[i]` (and below the next start)
    maps to `probabilities[i]`; below the first start, to the first probability."""

    starts: tuple[float, ...]
    probabilities: tuple[float, ...]
    tag: str = "calibrated"

    def __post_init__(self):
        if not self.starts or len(self.starts) != len(self.probabilities):
            raise ValueError("a calibration needs one probability per step start, and at least one step")
        if list(self.starts) != sorted(self.starts) or list(self.probabilities) != sorted(self.probabilities):
            raise ValueError("calibration steps must rise with the raw confidence")

    def __call__(self, raw: float) -> float:
        return self.probabilities[max(0, bisect.bisect_right(self.starts, raw) - 1)]

    def as_json(self) -> list[list[float]]:
        return [[round(s, 6), round(p, 6)] for s, p in zip(self.starts, self.probabilities)]


# A fit's steps report the Wilson lower bound of their share of right reads at this many
# standard deviations: the probability a step's reads support, not an estimate that overstates
# it. Pool adjacent violators is optimistic where reads are few: a step of ~80 reads it fitted
# at 0.93 in one fold was right 86% of the time in the other. Later stages act on a read at
# 0.9-0.95 (a citation), so the claim must hold on reads the fit has not seen. Measured through
# the whole default recognizer (cascade + fallback) on 762 real US plates pasted in real frames
# and the 381 plates-us-ocr-val crops, each of two folds by plate text scored with the fit made
# without it (docs/benchmarks-models.md, 2026-12-04, dev-2c), reads >= 0.9 right:
# (right + 1) / (reads + 2) 98.50% (81.5% of reads), z = 2 98.59% (80.4%), z = 3 99.30% (75.2%;
# frames alone 99.14%). The price is reads reported low: a raw 0.70 (right about 60% of the
# time) says 0.29, so the recognizer's `min_read_confidence` is 0.25 (the raw cut of 0.5 with the
# earlier fit). None: (right + 1) / (reads + 2).
LOWER_BOUND_Z = 3.0


def wilson_lower(right: float, reads: float, z: float) -> float:
    """The Wilson score interval's lower end for `right` of `reads` at `z` standard deviations."""
    if reads <= 0:
        return 0.5
    p = right / reads
    d = 1.0 + z * z / reads
    return (p + z * z / (2 * reads) - z * math.sqrt(p * (1 - p) / reads + z * z / (4 * reads * reads))) / d


def fit_isotonic(
    confidences: Sequence[float], correct: Sequence[bool], tag: str = "calibrated", z: float | None = None
) -> Calibration:
    """Pool adjacent violators over (raw confidence, right) sorted by confidence (equal
    confidences share a step), then each step reports (right + 1) / (reads + 2), or with `z`
    the Wilson lower bound of its share (`LOWER_BOUND_Z`), rather than the raw share; steps
    that this leaves out of order (a small step of all-right reads below a large one) are
    pooled too, so the result still rises."""
    if len(confidences) == 0 or len(confidences) != len(correct):
        raise ValueError("calibration needs one (confidence, right) per read, and at least one read")
    if all(correct) or not any(correct):
        raise ValueError("calibration needs both right and wrong reads")
    if z is not None and z <= 0:
        raise ValueError("z is a number of standard deviations above 0 (None: (right + 1) / (reads + 2))")
    pairs = sorted(zip((float(c) for c in confidences), (bool(ok) for ok in correct)))
    blocks: list[list[float]] = []  # [start, right, reads]
    for c, ok in pairs:
        if blocks and blocks[-1][0] == c:
            blocks[-1][1] += ok
            blocks[-1][2] += 1
        else:
            blocks.append([c, float(ok), 1.0])

    def reported(b: list[float]) -> float:
        return (b[1] + 1) / (b[2] + 2) if z is None else wilson_lower(b[1], b[2], z)

    for share in (lambda b: b[1] / b[2], reported):
        pooled: list[list[float]] = []
        for b in blocks:
            pooled.append(list(b))
            while len(pooled) > 1 and share(pooled[-1]) <= share(pooled[-2]):
                last = pooled.pop()
                pooled[-1][1] += last[1]
                pooled[-1][2] += last[2]
        blocks = pooled
    return Calibration(tuple(b[0] for b in blocks), tuple(reported(b) for b in blocks), tag)


def load_calibration(reader: str, path: str = CALIBRATION_FILE) -> Calibration | None:
    """The fit made for exactly this reader (its name, with its files' hashes), or None."""
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            entries = json.load(f)["pipelines"]
        for e in entries:
            if e["reader"] == reader:
                steps = e["steps"]
                return Calibration(
                    tuple(float(s) for s, _ in steps),
                    tuple(float(p) for _, p in steps),
                    tag=f"calibrated@{e['fitted']}",
                )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(
            f"calibration file {path} is unreadable ({err}); restore it from git or refit it with "
            "`python -m alpr_app.models.calibrate --fit READER --write`"
        ) from None
    return None
