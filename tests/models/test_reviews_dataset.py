"""The review queue as a training set (issue #16): which reviewed crops are exported, with what
labels, under the retention period and the legal holds of the rows they come from."""

from __future__ import annotations

import csv
import json
import stat

import cv2
import numpy as np

from alpr.store import open_store
from alpr_app.models.reviews_dataset import export_reviewed_crops, load_review_crops
from tests.support.reviews import an_old_pass, reviewed_store


def test_reviewed_crops_are_exported_with_the_reviewers_plate_and_nothing_else(tmp_path):
    from datetime import UTC, datetime, timedelta

    truth = reviewed_store(tmp_path / "data", stays=12)
    held = an_old_pass(tmp_path / "data", "7HLD001", days=400, held=True)  # under a legal hold
    store = open_store("revenue", clickhouse_url=None, data_dir=tmp_path / "data")
    folder = tmp_path / "data" / "training" / "reviews"
    export = export_reviewed_crops(store, folder)

    with open(folder / "labels.csv", newline="") as f:
        rows = {r["pass_id"]: r for r in csv.DictReader(f)}
    # Confirmed and corrected stays only (not the dismissed or the undecided one), with the plate
    # the reviewer settled on; a pass past 365 days only under a hold.
    assert {k: v["plate_text"] for k, v in rows.items() if k in truth} == truth and len(truth) == 2 * 10
    assert set(rows) == set(truth) | set(held) and all(rows[p]["held"] == "1" for p in held)
    assert export.crops == len(rows) and export.corrected == 2 * 3  # stays 0, 4, 8: both passes
    assert export.left_out == {}
    # Real JPEGs, named by a hash of the pass id: no plate in any file name; the folder is 0700.
    for r in rows.values():
        assert r["plate_text"] not in r["image_path"]
        img = cv2.imdecode(np.frombuffer((folder / r["image_path"]).read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and img.shape[0] > 10
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["crops"] == export.crops and manifest["cameras"] == ["cam-g1-entry-1", "cam-g1-exit-1"]
    assert len(load_review_crops(str(folder / "labels.csv"))) == export.crops

    # A year on, rows the TTL has not merged away yet are past retention all the same: only the
    # held stay is exported.
    later = export_reviewed_crops(store, folder, now=datetime.now(UTC) + timedelta(days=366))
    store.close()
    with open(folder / "labels.csv", newline="") as f:
        assert {r["pass_id"] for r in csv.DictReader(f)} == set(held)
    assert later.left_out == {"past retention": len(truth)}


def test_an_export_replaces_the_last_one_whole(tmp_path):
    reviewed_store(tmp_path / "data", stays=4)
    folder = tmp_path / "data" / "training" / "reviews"
    store = open_store("revenue", clickhouse_url=None, data_dir=tmp_path / "data")
    first = export_reviewed_crops(store, folder)
    (folder / "crops" / "stale.jpg").write_bytes(b"from an older export")
    second = export_reviewed_crops(store, folder)
    store.close()
    assert second.crops == first.crops and not (folder / "crops" / "stale.jpg").exists()
    assert not folder.with_name("reviews.tmp").exists()
