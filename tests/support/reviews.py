"""A revenue store holding reviewed stays, with real JPEG crops: what `alpr train reader
--from-reviews` exports (tests/models)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2

from alpr.store import open_store
from alpr.store.migrate import migrate
from alpr.synth.datasets import plate_crop
from services.revenue.pairing import Pairing, new_state
from services.revenue.review import SAMPLED
from services.revenue.writer import Rows, pass_row, review_row
from tests.support import revenue_scenario as scenario


def _decision(decision: str, before: str, after: str) -> dict:
    return {"decision": decision, "plate_before": before, "plate": after, "reviewer": "r1",
            "decided_at": "2026-11-24T20:00:00Z"}  # fmt: skip


def reviewed_store(data_dir: Path, stays: int = 12, seed: int = 5150) -> dict[str, str]:
    """Revenue's chDB store under `data_dir`, migrated, with `add_reviewed_stays`."""
    store = open_store("revenue", clickhouse_url=None, data_dir=data_dir)
    migrate(store, "revenue")
    try:
        return add_reviewed_stays(store, stays, seed)
    finally:
        store.close()


def add_reviewed_stays(store, stays: int = 12, seed: int = 5150) -> dict[str, str]:
    """`stays` reviewed stays in revenue's `store`, synthetic crops as the passes' crops, every one
    in the accuracy sample: every fourth corrected (its machine read one character off), the
    second last dismissed, the last undecided. Returns pass_id -> the plate a reviewer settled
    on (the exported ones)."""
    rows, pairing, state = Rows(), Pairing(12 * 3_600_000), new_state()
    truth: dict[str, str] = {}
    for i in range(stays):
        crop, text = plate_crop(seed, i)
        read = text if i % 4 else text[:-1] + ("7" if text[-1] != "7" else "1")
        decision = (
            None
            if i == stays - 1
            else _decision("corrected", read, text)
            if i % 4 == 0
            else (_decision("dismissed", read, read) if i == stays - 2 else _decision("confirmed", read, read))
        )
        ok, jpeg = cv2.imencode(".jpg", crop)
        assert ok
        b64 = base64.b64encode(jpeg.tobytes()).decode()
        hour = 8 + i // 6
        passes = [scenario.a_pass("entry", read, f"{hour}:{(i % 6) * 10:02d}"),
                  scenario.a_pass("exit", read, f"{hour}:{(i % 6) * 10 + 5:02d}")]  # fmt: skip
        for p in passes:
            p = p.model_copy(update={"best_crop_jpeg_b64": b64})
            rows.add("passes", pass_row(p, None))
            for s in pairing.apply(state, p).decided:
                rows.add("reviews", review_row(s, [SAMPLED], decision, None))
            if decision and decision["decision"] != "dismissed":
                truth[p.pass_id] = text
    rows.write(store)
    return truth


def an_old_pass(data_dir: Path, plate: str, days: int, held: bool) -> list[str]:
    """A confirmed stay first seen `days` ago (its crop a synthetic one), held or not; its pass ids."""
    store = open_store("revenue", clickhouse_url=None, data_dir=data_dir)
    crop, _ = plate_crop(99, 0)
    b64 = base64.b64encode(cv2.imencode(".jpg", crop)[1].tobytes()).decode()
    at = datetime.now(UTC) - timedelta(days=days)
    rows, pairing, state = Rows(), Pairing(12 * 3_600_000), new_state()
    entry = scenario.a_pass("entry", plate, at).model_copy(update={"best_crop_jpeg_b64": b64})
    exit_ = scenario.a_pass("exit", plate, at + timedelta(minutes=5)).model_copy(update={"best_crop_jpeg_b64": b64})
    for p in (entry, exit_):
        row = pass_row(p, None)
        row["held"] = int(held)
        rows.add("passes", row)
        for s in pairing.apply(state, p).decided:
            review = review_row(s, [SAMPLED], _decision("confirmed", plate, plate), None)
            review["held"] = int(held)  # a legal hold marks every row of the plate
            rows.add("reviews", review)
    rows.write(store)
    store.close()
    return [entry.pass_id, exit_.pass_id]
