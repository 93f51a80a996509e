"""Accuracy per camera, live (policy section 9), from the review sample.

The policy publishes a capture rate (98.6%) and a perfect-read rate (97.8%) that only a
measurement on live traffic can back. The review queue's accuracy sample
(services.revenue.review: a hash of the session id picks it, whatever its confidence, so it is
unbiased) is that measurement: once a reviewer has confirmed or corrected a sampled session,
each of its passes is one trial for its camera (right when the pass's plate is the plate the
reviewer settled on). Dismissed sessions (nobody can read the plate) are left out of the
perfect-read rate. The capture rate is the share of a camera's passes that found a plate at all
(a vehicle seen by motion with no plate read is a pass without one).

Each rate comes with a Wilson 95% interval over a rolling window (`window`): a camera with 20
reviewed reads shows a wide interval, and the alert (infra/prometheus/alerts.yml) fires only
when the whole interval is below the policy's figure, not on the noise of a small sample.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from alpr.store import Store
from services.revenue.review import READ_DECISIONS, SAMPLED, reviewed_plates

CAPTURE_TARGET = 0.986  # policy section 9: "98.6% license plate capture accuracy rate"
PERFECT_READ_TARGET = 0.978  # "and a 97.8% perfect read rate"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of k successes in n trials ((0, 1) for no trials)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    right: int
    trials: int

    @property
    def value(self) -> float | None:
        return round(self.right / self.trials, 4) if self.trials else None

    def interval(self) -> tuple[float, float]:
        low, high = wilson(self.right, self.trials)
        return round(low, 4), round(high, 4)

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval()
        return {"rate": self.value, "right": self.right, "trials": self.trials, "low": low, "high": high}


@dataclass(frozen=True)
class CameraAccuracy:
    facility_id: str
    camera_id: str
    perfect_read: Rate  # reviewed passes read exactly right
    capture: Rate  # passes with a plate found, of all passes

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["perfect_read"], d["capture"] = self.perfect_read.to_dict(), self.capture.to_dict()
        return d


def measure(store: Store, window: timedelta, now: datetime | None = None) -> list[CameraAccuracy]:
    """Every camera's rates over the passes first seen within `window` before `now`. By default
    `now` is the newest pass's time (the stream's clock, not the wall's): live traffic makes that
    the present, and a replayed recording is measured over its own hours, not an empty window."""
    db = store.database
    if now is None:
        newest = store.query(f"SELECT max(first_seen) AS t, count() AS n FROM {db}.passes")
        if not newest or not int(newest[0]["n"]):
            return []
        t = newest[0]["t"]
        now = datetime.fromisoformat(t) if isinstance(t, str) else t  # chDB answers a string, a server a datetime
        now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    since = now - window
    params = {"since": since, "now": now}
    passes = store.query(
        f"SELECT pass_id, facility_id, camera_id, plate FROM {db}.passes FINAL "
        "WHERE first_seen >= {since:DateTime64(3, 'UTC')} AND first_seen <= {now:DateTime64(3, 'UTC')}",
        params,
    )
    reviews = store.query(
        f"SELECT entry_pass_id, exit_pass_id, state, plate, plate_after FROM {db}.reviews FINAL "
        "WHERE has(reasons, {sampled:String}) AND has({decided:Array(String)}, state) "
        "AND created_at >= {since:DateTime64(3, 'UTC')}",
        {**params, "sampled": SAMPLED, "decided": list(READ_DECISIONS)},
    )
    truth: dict[str, str] = {}
    for r in reviews:
        truth.update(reviewed_plates(r))
    cameras: dict[tuple[str, str], list[int]] = {}  # (facility, camera) -> [right, reviewed, plated, passes]
    for p in passes:
        c = cameras.setdefault((p["facility_id"], p["camera_id"]), [0, 0, 0, 0])
        c[3] += 1
        c[2] += bool(p["plate"])
        if p["pass_id"] in truth:
            c[1] += 1
            c[0] += p["plate"] == truth[p["pass_id"]]
    return [
        CameraAccuracy(facility, camera, Rate(c[0], c[1]), Rate(c[2], c[3]))
        for (facility, camera), c in sorted(cameras.items())
    ]


def facility_figures(cameras: list[CameraAccuracy]) -> list[dict[str, Any]]:
    """The transparency page's figures: per facility, no plates and no camera detail."""
    by: dict[str, list[int]] = {}
    for c in cameras:
        f = by.setdefault(c.facility_id, [0, 0, 0, 0])
        f[0] += c.perfect_read.right
        f[1] += c.perfect_read.trials
        f[2] += c.capture.right
        f[3] += c.capture.trials
    return [
        {
            "facility_id": facility,
            "perfect_read": Rate(f[0], f[1]).to_dict(),
            "capture": Rate(f[2], f[3]).to_dict(),
            "targets": {"perfect_read": PERFECT_READ_TARGET, "capture": CAPTURE_TARGET},
        }
        for facility, f in sorted(by.items())
    ]


def export(cameras: list[CameraAccuracy]) -> None:
    """Set the Prometheus gauges (services.revenue.metrics) from one measurement."""
    from services.revenue.metrics import CAPTURE_RATE, PERFECT_READ_RATE, REVIEWED_READS

    for c in cameras:
        REVIEWED_READS.labels(c.facility_id, c.camera_id).set(c.perfect_read.trials)
        for gauge, rate in ((PERFECT_READ_RATE, c.perfect_read), (CAPTURE_RATE, c.capture)):
            if not rate.trials:
                continue
            low, high = rate.interval()
            for bound, value in (("estimate", rate.value), ("low", low), ("high", high)):
                gauge.labels(c.facility_id, c.camera_id, bound).set(value)


def watch(store: Store, window: timedelta, every_s: float):
    """A `Workers` worker: measure and export every `every_s` until stopped (a failed query is
    logged and tried again next time: the figures go stale, the service stays up)."""
    import logging

    log = logging.getLogger(__name__)

    def worker(stop) -> None:
        while not stop.is_set():
            try:
                export(measure(store, window))
            except Exception:
                log.exception("accuracy measurement failed")
            stop.wait(every_s)

    return worker
