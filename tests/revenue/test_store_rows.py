"""The revenue rows on the real engine (chDB): one final match per session however often it is
written, and legal holds reaching every revenue table (passes included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alpr.contracts.models import Hold, Payment
from alpr.holds import HoldKeeper
from alpr.store import open_store
from alpr.store.migrate import migrate
from services.revenue.match import Ledger, Windows
from services.revenue.pairing import Pairing, new_state
from services.revenue.session import Session
from services.revenue.tariff import load_tariff
from services.revenue.writer import (
    HELD_TABLES,
    Rows,
    match_row,
    pass_row,
    payment_row,
    review_row,
    session_row,
    violation_row,
)
from tests.support import revenue_scenario as scenario
from tests.support.tariffs import DEMO

pytestmark = [pytest.mark.clickhouse]


@pytest.fixture
def store(tmp_path):
    s = open_store("revenue", clickhouse_url=None, data_dir=tmp_path)
    migrate(s, "revenue")
    yield s
    s.close()


def day_rows(keeper) -> Rows:
    tariff, windows = load_tariff(DEMO), Windows(orphan_after=timedelta(hours=12))
    pairing, state, ledger, rows = Pairing(12 * 3_600_000), new_state(), Ledger(None, 0), Rows()
    ledger.add_payment(Payment.model_validate(scenario.PAYMENTS[1]))
    rows.add("payments", payment_row(Payment.model_validate(scenario.PAYMENTS[1]), keeper))
    for p in [scenario.a_pass("entry", "7XYZ001", "10:10"), scenario.a_pass("exit", "7XYZ001", "14:10")]:
        rows.add("passes", pass_row(p, keeper))
        out = pairing.apply(state, p)
        for s in out.written:
            rows.add("sessions", session_row(s, keeper))
        for s in out.decided:
            ledger.add_session(s)
    (sid,) = ledger.due_sessions(scenario.ms("23:00"), windows)
    d = ledger.decide(sid, tariff, windows)
    rows.add("matches", match_row(d.match, d.lookup, "closed", keeper))
    rows.add("violations", violation_row(d.violation, keeper))
    session = Session.from_dict(ledger.raw["sessions"][sid]["session"])
    rows.add("reviews", review_row(session, ["accuracy sample"], None, keeper))
    rows.add(
        "evidence_custody",
        {"session_id": sid, "plate": session.plate, "session_at": session.entry_at, "downloaded_at": session.exit_at,
         "downloaded_by": "officer", "sha256": "0" * 64, "files": 7,
         "held": int(keeper is not None and keeper.is_held(session.plate, session.entry_at))},
    )  # fmt: skip
    return rows


def test_redelivered_rows_leave_one_final_row_per_id(store):
    day_rows(None).write(store)
    day_rows(None).write(store)  # a replay after a crash: later decided_at, same ids
    db = store.database
    assert store.query(f"SELECT status, amount_due_cents, amount_paid_cents FROM {db}.matches FINAL") == [
        {"status": "underpaid", "amount_due_cents": 1200, "amount_paid_cents": 600}
    ]
    assert store.query(f"SELECT state FROM {db}.sessions FINAL") == [{"state": "closed"}]
    assert store.query(f"SELECT count() AS n FROM {db}.violations FINAL") == [{"n": 1}]
    assert store.query(f"SELECT count() AS n FROM {db}.passes FINAL") == [{"n": 2}]


def test_a_legal_hold_marks_every_revenue_table_and_new_rows_in_scope(store):
    keeper = HoldKeeper(store, HELD_TABLES)
    day_rows(keeper).write(store)
    now = datetime.now(UTC)
    keeper.apply(
        Hold(hold_id="h1", action="place", basis="subpoena", case_ref="SUB-1", plates=["7XYZ001"], by="counsel", at=now)
    )
    for t in HELD_TABLES:
        held = store.query(f"SELECT min(held) AS h FROM {store.database}.{t.table}")
        assert held == [{"h": 1}], t.table
    assert all(r["held"] == 1 for r in day_rows(keeper).tables["matches"])  # written later, still held
    keeper.apply(
        Hold(
            hold_id="h1",
            action="release",
            basis="subpoena",
            case_ref="SUB-1",
            plates=["7XYZ001"],
            by="counsel",
            at=now + timedelta(seconds=1),
        )
    )
    assert store.query(f"SELECT max(held) AS h FROM {store.database}.sessions") == [{"h": 0}]


def test_the_demo_counts_sessions_past_their_window_and_lag_without_a_decision(store):
    from alpr_app.demo.cli import DEMO_IDLE_LAG, DEMO_PAYMENT_LATE, sessions_undecided

    day_rows(None).write(store)  # 7XYZ001 left at 14:10 and was decided
    pairing, state, rows = Pairing(12 * 3_600_000), new_state(), Rows()
    for p in [
        scenario.a_pass("entry", "5KLM777", "11:00"),
        scenario.a_pass("exit", "5KLM777", "13:00"),
        scenario.a_pass("entry", "8ABC123", "13:10"),
    ]:  # 5KLM777 left, undecided; 8ABC123 is inside
        for s in pairing.apply(state, p).written:
            rows.add("sessions", session_row(s, None))
    rows.write(store)
    window = DEMO_PAYMENT_LATE + DEMO_IDLE_LAG
    assert sessions_undecided(store, None) == 0  # no pass seen: no clock
    assert sessions_undecided(store, scenario.at("13:00") + window) == 0  # not older than window + lag yet
    assert sessions_undecided(store, scenario.at("13:00") + window + timedelta(seconds=1)) == 1
    assert sessions_undecided(store, scenario.at("23:00")) == 1
