"""The review queue as a training set: every pass a reviewer settled, with the plate they read.

A confirmed or corrected review task (revenue.reviews) says what the plate of its session's
passes really is (a split, that the entry's plate stands and what the exit's is:
`services.revenue.review.reviewed_plates`); the pass rows (revenue.passes) keep each pass's best crop. Together they are
a labelled set of real crops from the operator's own cameras, the data the reader misreads
(the accuracy sample among them: unbiased), which no public set offers.

It is ALPR data, so it lives under the same rules as the rows it comes from:

* only passes still within the retention period (first seen less than 365 days ago) or under
  a legal hold are exported, whatever TTL has or has not merged away yet;
* the export is written under the data directory (`<data dir>/training/reviews/`, 0700) and
  replaced whole at each export, so it never outlives the store's own rows by more than one
  run; `alpr train reader --from-reviews` deletes it after training unless told to keep it;
* dismissed tasks (nobody could read the plate) and undecided ones are left out; file names are
  hashes of the pass id, never the plate.

`labels.csv` has the columns of the project's crop sets (`image_path`, `plate_text`) plus the
provenance a model card needs (pass, camera, first seen, review, reviewer, held).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alpr.errors import AlprError
from alpr.plates import normalize
from alpr.store import Store
from services.revenue.review import READ_DECISIONS, reviewed_plates

RETENTION = timedelta(days=365)
COLUMNS = ("image_path", "plate_text", "pass_id", "camera_id", "first_seen", "review_id", "reviewer", "held")


@dataclass
class ReviewExport:
    """What an export holds (the model card's record of it)."""

    folder: str
    crops: int = 0
    plates: int = 0
    cameras: list[str] = field(default_factory=list)
    reviewers: int = 0
    first_seen_from: str | None = None
    first_seen_to: str | None = None
    corrected: int = 0  # crops whose machine read a reviewer corrected
    left_out: dict[str, int] = field(default_factory=dict)  # why rows were not exported
    exported_at: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _as_utc(value) -> datetime:
    t = datetime.fromisoformat(value) if isinstance(value, str) else value
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def export_reviewed_crops(store: Store, folder: Path, now: datetime | None = None) -> ReviewExport:
    """Write the reviewed crops of revenue's `store` to `folder` (replaced whole); see the module doc."""
    now = now or datetime.now(UTC)
    db = store.database
    reviews = store.query(
        f"SELECT review_id, state, plate, plate_after, reviewer, entry_pass_id, exit_pass_id "
        f"FROM {db}.reviews FINAL WHERE has({{decided:Array(String)}}, state)",
        {"decided": list(READ_DECISIONS)},
    )
    truth: dict[str, tuple[str, dict]] = {}
    for r in reviews:
        for pid, plate in reviewed_plates(r).items():
            truth[pid] = (normalize(plate), r)
    export = ReviewExport(folder=str(folder), exported_at=now.isoformat())
    rows = []
    if truth:
        rows = store.query(
            f"SELECT pass_id, camera_id, plate, first_seen, crop_jpeg_b64, held FROM {db}.passes FINAL "
            "WHERE has({ids:Array(String)}, pass_id)",
            {"ids": sorted(truth)},
        )
    since = now - RETENTION
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "crops").mkdir(parents=True, mode=0o700)
    os.chmod(tmp, 0o700)
    written: list[dict] = []
    left_out = {"past retention": 0, "no crop": 0, "pass purged": len(truth) - len(rows)}
    for row in sorted(rows, key=lambda r: r["pass_id"]):
        first_seen = _as_utc(row["first_seen"])
        held = bool(int(row["held"]))
        if first_seen < since and not held:
            left_out["past retention"] += 1
            continue
        if not row["crop_jpeg_b64"]:
            left_out["no crop"] += 1
            continue
        plate, review = truth[row["pass_id"]]
        name = hashlib.sha256(row["pass_id"].encode()).hexdigest()[:24] + ".jpg"
        (tmp / "crops" / name).write_bytes(base64.b64decode(row["crop_jpeg_b64"]))
        written.append(
            {
                "image_path": f"crops/{name}",
                "plate_text": plate,
                "pass_id": row["pass_id"],
                "camera_id": row["camera_id"],
                "first_seen": first_seen.isoformat(),
                "review_id": review["review_id"],
                "reviewer": review["reviewer"],
                "held": int(held),
            }
        )
        export.corrected += normalize(row["plate"]) != plate
    with open(tmp / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(written)
    export.crops = len(written)
    export.plates = len({r["plate_text"] for r in written})
    export.cameras = sorted({r["camera_id"] for r in written})
    export.reviewers = len({r["reviewer"] for r in written})
    if written:
        export.first_seen_from = min(r["first_seen"] for r in written)
        export.first_seen_to = max(r["first_seen"] for r in written)
    export.left_out = {k: v for k, v in left_out.items() if v}
    (tmp / "manifest.json").write_text(json.dumps(export.to_dict(), indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return export


def load_review_crops(labels_csv: str) -> list[tuple[str, str]]:
    """(absolute image path, plate text) of an export's labels.csv."""
    path = Path(labels_csv)
    if not path.is_file():
        raise AlprError(f"no reviewed crops at {path}: export them with `alpr train reader --from-reviews`")
    with open(path, newline="") as f:
        return [(str(path.parent / r["image_path"]), r["plate_text"]) for r in csv.DictReader(f)]
