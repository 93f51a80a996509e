"""Accuracy per camera from the review sample (services/revenue/accuracy.py), on chDB: the figures
are what the reviewed passes say, per camera, with Wilson intervals; a pass of a session sent to
review for another reason than the sample does not count (it would bias the rate toward errors)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alpr.store import open_store
from alpr.store.migrate import migrate
from services.revenue.accuracy import facility_figures, measure, wilson
from services.revenue.pairing import Pairing, new_state
from services.revenue.review import LOW_CONFIDENCE, SAMPLED
from services.revenue.writer import Rows, pass_row, review_row
from tests.support import revenue_scenario as scenario

pytestmark = [pytest.mark.clickhouse]


def test_wilson_interval_holds_the_rate_and_narrows_with_trials():
    low, high = wilson(9, 10)
    assert low < 0.9 < high and high - low > 0.3
    low2, high2 = wilson(900, 1000)
    assert low2 < 0.9 < high2 and high2 - low2 < 0.04
    assert wilson(0, 0) == (0.0, 1.0)


def review(decision: str, before: str, after: str, at: str) -> dict:
    return {"decision": decision, "plate_before": before, "plate": after, "reviewer": "r1",
            "decided_at": f"2026-11-24T{at}:00Z"}  # fmt: skip


def test_rates_per_camera_from_the_reviewed_sample(tmp_path):
    store = open_store("revenue", clickhouse_url=None, data_dir=tmp_path)
    migrate(store, "revenue")
    a = scenario.a_pass
    stays = [  # plate read at entry, at exit; what the reviewer settled on; why it was reviewed
        ("1AAA111", "1AAA111", review("confirmed", "1AAA111", "1AAA111", "20:00"), [SAMPLED]),
        ("2BBB222", "2BBB222", review("corrected", "2BBB222", "2BBB227", "20:01"), [SAMPLED]),
        ("3CCC333", "3CCC333", review("corrected", "3CCC333", "3CCC338", "20:02"), [LOW_CONFIDENCE]),  # not a sample
        ("4DDD444", "4DDD444", review("dismissed", "4DDD444", "4DDD444", "20:03"), [SAMPLED]),  # unreadable
        ("5EEE555", "5EEE555", None, [SAMPLED]),  # not decided yet
    ]
    rows, pairing, state = Rows(), Pairing(12 * 3_600_000), new_state()
    for i, (entry_plate, exit_plate, decision, reasons) in enumerate(stays):
        passes = [a("entry", entry_plate, f"1{i}:00"), a("exit", exit_plate, f"1{i}:30")]
        for p in passes:
            rows.add("passes", pass_row(p, None))
            for s in pairing.apply(state, p).decided:
                rows.add("reviews", review_row(s, reasons, decision, None))
    rows.add("passes", pass_row(a("entry", None, "16:00"), None))  # a vehicle whose plate was not found
    rows.write(store)

    cameras = {c.camera_id: c for c in measure(store, timedelta(days=1))}
    entry, exit_ = cameras["cam-g1-entry-1"], cameras["cam-g1-exit-1"]
    # Reviewed sample: 1AAA111 right, 2BBB222 wrong (corrected); 3CCC333 is no sample, 4DDD444 dismissed.
    assert (entry.perfect_read.right, entry.perfect_read.trials) == (1, 2)
    assert (exit_.perfect_read.right, exit_.perfect_read.trials) == (1, 2)
    assert (entry.capture.right, entry.capture.trials) == (5, 6) and (exit_.capture.right, exit_.capture.trials) == (
        5,
        5,
    )
    low, high = entry.perfect_read.interval()
    assert low < 0.5 < high
    (garage,) = facility_figures(list(cameras.values()))
    assert garage["perfect_read"]["right"] == 2 and garage["perfect_read"]["trials"] == 4
    assert garage["capture"]["rate"] == round(10 / 11, 4) and "plate" not in str(garage).replace("plate_", "")
    # The window ends at the newest pass (16:00): two hours hold the 14:00 stay and the 16:00 vehicle.
    recent = {c.camera_id: c for c in measure(store, timedelta(hours=2))}
    assert recent["cam-g1-entry-1"].capture.trials == 2 and recent["cam-g1-exit-1"].capture.trials == 1
    store.close()
