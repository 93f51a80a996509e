"""Pairing and matching as pure functions over the scripted day (no broker, no store)."""

from __future__ import annotations

from datetime import timedelta

from alpr.contracts.models import Payment
from services.revenue.match import Ledger, Windows
from services.revenue.pairing import Pairing, new_state
from services.revenue.tariff import load_tariff
from tests.support import revenue_scenario as scenario
from tests.support.tariffs import DEMO

WINDOWS = Windows(orphan_after=timedelta(hours=12))


def run_day(passes, payments):
    """The service's two stages in one process: pairing by facility, matching by plate key."""
    tariff = load_tariff(DEMO)
    pairing = Pairing(orphan_after_ms=12 * 3_600_000)
    state = new_state()
    ledgers: dict[str, Ledger] = {}
    for raw in payments:
        p = Payment.model_validate(raw)
        ledgers.setdefault(p.plate_key if hasattr(p, "plate_key") else _key(p.plate), Ledger(None, 0)).add_payment(p)
    matches, violations, written = {}, {}, []
    for p in passes:
        out = pairing.apply(state, p)
        written += out.written
        for s in out.decided:
            ledgers.setdefault(s.plate_key, Ledger(None, 0)).add_session(s)
    for ledger in ledgers.values():
        for sid in ledger.due_sessions(state["watermark_ms"], WINDOWS):
            d = ledger.decide(sid, tariff, WINDOWS)
            matches[sid] = d.match
            if d.violation:
                violations[d.violation.violation_id] = d.violation
    return state, matches, violations, written


def _key(plate):
    from alpr.plates import confusable_key

    return confusable_key(plate)


def test_the_scripted_day_gives_the_expected_matches_and_violations():
    state, matches, violations, _ = run_day(scenario.passes(), scenario.PAYMENTS)
    assert {
        sid: (m.status, m.amount_due_cents, m.amount_paid_cents) for sid, m in matches.items()
    } == scenario.EXPECTED_MATCHES
    assert {(v.session_id, v.kind, v.amount_due_cents) for v in violations.values()} == scenario.EXPECTED_VIOLATIONS
    assert list(state["open"]) == [_key("1LAT111")]
    misread = matches[scenario.sid("8DEF234", "12:00")]
    assert misread.match_confidence == 0.9 and "BDEF234" in misread.reason
    overstay = matches[scenario.sid("7XYZ001", "10:10")]
    assert len(overstay.evidence_pass_ids) == 3  # entry, patrol, exit


def test_replaying_the_day_twice_changes_nothing():
    once = run_day(scenario.passes(), scenario.PAYMENTS)
    twice = run_day(scenario.passes() + scenario.passes(), scenario.PAYMENTS + scenario.PAYMENTS)
    assert {k: m.match_id for k, m in once[1].items()} == {k: m.match_id for k, m in twice[1].items()}
    assert once[2].keys() == twice[2].keys()


def test_an_exit_pairs_with_a_plate_one_character_off_and_an_unknown_exit_is_flagged():
    pairing = Pairing(orphan_after_ms=12 * 3_600_000)
    state = new_state()
    pairing.apply(state, scenario.a_pass("entry", "7ABC123", "10:00"))
    out = pairing.apply(state, scenario.a_pass("exit", "7ABC128", "11:00"))  # 3 -> 8: not confusable
    (s,) = out.decided
    assert (s.state, s.pair_confidence, s.plate) == ("closed", 0.7, "7ABC123")
    # An exit no entry claims waits for one that comes late, then is flagged (10 min of stream time).
    assert pairing.apply(state, scenario.a_pass("exit", "9ZZZ999", "11:30")).decided == []
    assert pairing.apply(state, scenario.a_pass("entry", "4QQQ444", "11:35")).decided == []
    (lonely,) = pairing.apply(state, scenario.a_pass("entry", "4RRR555", "11:41")).decided
    assert lonely.state == "exit_without_entry" and lonely.session_id.endswith(f"/exit-{scenario.ms('11:30')}")
    assert lonely.exit_pass_id == scenario.a_pass("exit", "9ZZZ999", "11:30").pass_id and not state["held_exits"]


def test_an_exit_that_arrives_before_its_entry_pairs_as_if_in_order():
    """The entry lane delayed behind the exit lane (a broker failing over the entry lane's
    partition while its recognizer catches up): a short stay's exit arrives first, and the
    session is the one the ordered passes give."""

    def stay(order):
        pairing, state = Pairing(orphan_after_ms=12 * 3_600_000), new_state()
        passes = {
            "entry": scenario.a_pass("entry", "7ABC123", "10:01"),
            "exit": scenario.a_pass("exit", "7ABC123", "10:04"),
        }
        decided = [s for d in order for s in pairing.apply(state, passes[d]).decided]
        return decided, state

    (ordered,), _ = stay(["entry", "exit"])
    (reordered,), state = stay(["exit", "entry"])
    fields = lambda s: {k: v for k, v in s.to_dict().items() if k != "watermark_ms"}  # noqa: E731
    assert fields(reordered) == fields(ordered) and ordered.state == "closed"
    assert reordered.session_id == scenario.sid("7ABC123", "10:01") and not state["held_exits"] and not state["open"]


def test_a_second_entry_of_the_same_plate_closes_the_first_as_orphan():
    pairing = Pairing(orphan_after_ms=12 * 3_600_000)
    state = new_state()
    pairing.apply(state, scenario.a_pass("entry", "7ABC123", "10:00"))
    out = pairing.apply(state, scenario.a_pass("entry", "7ABC123", "12:00"))
    assert [s.state for s in out.decided] == ["orphan_entry"]
    assert [s.state for s in out.written] == ["orphan_entry", "open"]


def test_a_late_retroactive_permit_revises_a_decided_session():
    tariff = load_tariff(DEMO)
    pairing = Pairing(orphan_after_ms=12 * 3_600_000)
    state, ledger = new_state(), Ledger(None, 0)
    pairing.apply(state, scenario.a_pass("entry", "5KLM777", "11:00"))
    (s,) = pairing.apply(state, scenario.a_pass("exit", "5KLM777", "13:00")).decided
    ledger.add_session(s)
    (sid,) = ledger.due_sessions(scenario.ms("23:00"), WINDOWS)
    assert ledger.decide(sid, tariff, WINDOWS).match.status == "unpaid"
    permit = Payment.model_validate({**scenario.PAYMENTS[5], "payment_id": "late-permit", "plate": "5KLM777"})
    assert ledger.add_payment(permit) and not ledger.add_payment(permit)
    (again,) = ledger.sessions_touched_by(permit, WINDOWS)
    assert ledger.decide(again, tariff, WINDOWS).match.status == "permit"
    assert ledger.decide(again, tariff, WINDOWS) is None  # unchanged: nothing to republish


def _correction(session, plate: str, reviewer: str = "r1") -> dict:
    return {
        "decision_id": f"{session.session_id}#1",
        "review_id": session.session_id,
        "session_id": session.session_id,
        "decision": "corrected",
        "plate_before": session.plate,
        "plate": plate,
        "reviewer": reviewer,
        "decided_at": "2026-11-24T20:00:00Z",
    }


def test_a_corrected_exit_only_session_re_pairs_with_the_open_entry_once():
    from alpr.plates import confusable_key

    pairing, state = Pairing(orphan_after_ms=12 * 3_600_000), new_state()
    pairing.apply(state, scenario.a_pass("entry", "4ENT500", "10:40"))
    pairing.apply(state, scenario.a_pass("exit", "4XY2999", "11:00", confidence=0.8))  # held: no entry
    (lonely,) = pairing.apply(state, scenario.a_pass("entry", "9LAT003", "11:20")).decided
    assert lonely.state == "exit_without_entry"
    review = _correction(lonely, "4ENT500")
    out = pairing.repair(state, lonely.to_dict(), "4ENT500", confusable_key("4ENT500"), review)
    (stay,) = out.decided
    assert (stay.state, stay.session_id, stay.supersedes) == (
        "closed",
        scenario.sid("4ENT500", "10:40"),
        lonely.session_id,
    )
    assert stay.exit_pass_id == lonely.exit_pass_id and stay.review == review
    assert "corrected in review by r1 (4XY2999 -> 4ENT500)" in stay.pair_reason
    gone = [s for s in out.written if s.state == "superseded"]
    assert [(s.session_id, s.plate) for s in gone] == [(lonely.session_id, "4XY2999")]
    assert confusable_key("4ENT500") not in state["open"]  # the entry is closed
    # Redelivered (or replayed after a crash against the saved state): nothing happens twice.
    again = pairing.repair(state, lonely.to_dict(), "4ENT500", confusable_key("4ENT500"), review)
    assert again.written == [] and again.decided == []


def test_a_corrected_exit_only_session_without_an_open_entry_moves_to_the_corrected_plate():
    from alpr.plates import confusable_key

    pairing, state = Pairing(orphan_after_ms=12 * 3_600_000), new_state()
    pairing.apply(state, scenario.a_pass("exit", "4XY2999", "11:00", confidence=0.8))
    (lonely,) = pairing.apply(state, scenario.a_pass("entry", "9LAT003", "11:20")).decided
    out = pairing.repair(state, lonely.to_dict(), "6NEW100", confusable_key("6NEW100"), _correction(lonely, "6NEW100"))
    (moved,) = out.decided
    assert (moved.session_id, moved.state, moved.plate, moved.plate_key) == (
        lonely.session_id, "exit_without_entry", "6NEW100", confusable_key("6NEW100"))  # fmt: skip
    assert moved.supersedes == "" and "no open entry of 6NEW100" in moved.pair_reason


def _split(session, plate: str, n: int = 1) -> dict:
    return {**_correction(session, plate), "decision_id": f"{session.session_id}#{n}", "decision": "split"}


# A (ENTERED) is parked; B (OTHER) enters after it; B's exit is misread as A's plate.
ENTERED, OTHER = "4ENT500", "7OTH222"


def _stay_with_a_wrong_exit():
    pairing, state = Pairing(orphan_after_ms=12 * 3_600_000), new_state()
    pairing.apply(state, scenario.a_pass("entry", ENTERED, "10:00"))
    pairing.apply(state, scenario.a_pass("entry", OTHER, "10:05"))
    (stay,) = pairing.apply(state, scenario.a_pass("exit", ENTERED, "10:30")).decided
    assert (stay.session_id, stay.state) == (scenario.sid(ENTERED, "10:00"), "closed")
    return pairing, state, stay


def test_a_split_stay_pairs_its_exit_with_the_other_vehicle_and_opens_its_entry_again():
    from alpr.plates import confusable_key

    pairing, state, stay = _stay_with_a_wrong_exit()
    review = _split(stay, OTHER)
    out = pairing.split(state, stay.to_dict(), OTHER, confusable_key(OTHER), review)
    (other,) = out.decided  # the reopened entry is written, not decided
    assert (other.session_id, other.state, other.exit_pass_id) == (
        scenario.sid(OTHER, "10:05"), "closed", stay.exit_pass_id)  # fmt: skip
    assert other.review == review and "to be 7OTH222's, not 4ENT500's" in other.pair_reason
    (reopened,) = [s for s in out.written if s.state == "open"]
    assert (reopened.session_id, reopened.exit_pass_id, reopened.exit_ms, reopened.reopened) == (
        stay.session_id, "", None, 1)  # fmt: skip
    assert reopened.version > stay.version  # the open row outranks the closed one in the store
    assert reopened.review is None  # the reviewer read the exit, not this vehicle's next exit
    # Redelivered: nothing twice.
    again = pairing.split(state, stay.to_dict(), OTHER, confusable_key(OTHER), review)
    assert again.written == [] and again.decided == []
    # The vehicle's real exit closes the same session, entry to its own exit.
    (real,) = pairing.apply(state, scenario.a_pass("exit", ENTERED, "11:00")).decided
    assert (real.session_id, real.state, real.exit_ms, real.reopened) == (
        stay.session_id, "closed", scenario.ms("11:00"), 1)  # fmt: skip
    assert real.version > stay.version


def test_a_split_stay_rejoins_the_exit_only_session_its_real_exit_became():
    from alpr.plates import confusable_key

    pairing, state, stay = _stay_with_a_wrong_exit()
    pairing.apply(state, scenario.a_pass("exit", ENTERED, "11:00"))  # A's real exit: no entry left, held
    (lonely,) = pairing.apply(state, scenario.a_pass("entry", "9LAT003", "11:20")).decided
    assert (lonely.state, lonely.plate) == ("exit_without_entry", ENTERED)
    out = pairing.split(state, stay.to_dict(), OTHER, confusable_key(OTHER), _split(stay, OTHER), lonely.to_dict())
    decided = {s.session_id: s for s in out.decided}
    assert set(decided) == {scenario.sid(OTHER, "10:05"), stay.session_id}
    rejoined = decided[stay.session_id]
    assert (rejoined.state, rejoined.exit_pass_id, rejoined.supersedes, rejoined.pair_confidence) == (
        "closed", lonely.exit_pass_id, lonely.session_id, 1.0)  # fmt: skip
    assert [(s.session_id, s.state) for s in out.written if s.state == "superseded"] == [
        (lonely.session_id, "superseded")
    ]
    assert confusable_key(ENTERED) not in state["open"] and confusable_key(OTHER) not in state["open"]


def test_a_split_exit_with_no_open_entry_of_the_typed_plate_is_an_exit_only_session():
    from alpr.plates import confusable_key

    pairing, state, stay = _stay_with_a_wrong_exit()
    out = pairing.split(state, stay.to_dict(), "6NEW100", confusable_key("6NEW100"), _split(stay, "6NEW100"))
    (lonely,) = out.decided
    assert (lonely.session_id, lonely.state, lonely.plate, lonely.exit_pass_id) == (
        f"{scenario.FACILITY}/6NEW100/exit-{scenario.ms('10:30')}", "exit_without_entry", "6NEW100",
        stay.exit_pass_id)  # fmt: skip
    assert "no open entry of 6NEW100" in lonely.pair_reason
    assert state["open"][confusable_key(ENTERED)]["session_id"] == stay.session_id  # open again
    assert confusable_key(OTHER) in state["open"]  # B is still inside


def test_a_split_stay_whose_plate_entered_again_since_closes_as_orphan_entry():
    from alpr.plates import confusable_key

    pairing, state, stay = _stay_with_a_wrong_exit()
    pairing.apply(state, scenario.a_pass("entry", ENTERED, "12:00"))  # A is back (its exit was missed)
    out = pairing.split(state, stay.to_dict(), OTHER, confusable_key(OTHER), _split(stay, OTHER))
    states = {s.session_id: s.state for s in out.decided}
    assert states == {scenario.sid(OTHER, "10:05"): "closed", stay.session_id: "orphan_entry"}
    assert state["open"][confusable_key(ENTERED)]["session_id"] == scenario.sid(ENTERED, "12:00")


def test_the_matcher_takes_the_earliest_undecided_exit_only_session_after_the_entry():
    from services.revenue.session import Session

    def lonely(hhmm: str, review: dict | None = None) -> Session:
        return Session(f"g/{ENTERED}/exit-{scenario.ms(hhmm)}", "g", ENTERED, ENTERED, "exit_without_entry",
                       exit_pass_id=f"x{hhmm}", exit_ms=scenario.ms(hhmm), review=review)  # fmt: skip

    ledger = Ledger(None, 0)
    for s in (
        lonely("09:00"),
        lonely("11:00", review={"decision_id": "d", "decision": "confirmed"}),
        lonely("12:00"),
        lonely("13:00"),
    ):
        ledger.add_session(s)
    taken = ledger.take_exit_only_after(scenario.ms("10:00"))
    assert taken is not None and taken["exit_pass_id"] == "x12:00"  # 09:00 is before, 11:00 was reviewed
    assert f"g/{ENTERED}/exit-{scenario.ms('12:00')}" not in ledger.raw["sessions"]
    assert Ledger(None, 0).take_exit_only_after(0) is None


def test_what_a_decided_task_says_each_pass_shows():
    from services.revenue.review import reviewed_plates

    task = {"plate": "4ENT500", "plate_after": "", "entry_pass_id": "e", "exit_pass_id": "x"}
    assert reviewed_plates({**task, "state": "confirmed", "plate_after": "4ENT500"}) == {"e": "4ENT500", "x": "4ENT500"}
    assert reviewed_plates({**task, "state": "corrected", "plate_after": "4ENT5O0"}) == {"e": "4ENT5O0", "x": "4ENT5O0"}
    assert reviewed_plates({**task, "state": "split", "plate_after": OTHER}) == {"e": "4ENT500", "x": OTHER}
    assert reviewed_plates({**task, "state": "corrected", "plate_after": "4X", "entry_pass_id": ""}) == {"x": "4X"}
    assert reviewed_plates({**task, "state": "dismissed"}) == {} and reviewed_plates({**task, "state": "queued"}) == {}


def test_an_exit_paired_again_after_review_never_closes_an_entry_made_after_it():
    from alpr.plates import confusable_key

    pairing, state, stay = _stay_with_a_wrong_exit()
    pairing.apply(state, scenario.a_pass("exit", OTHER, "10:40"))  # B left (its entry closes)
    pairing.apply(state, scenario.a_pass("entry", OTHER, "12:00"))  # and came back
    out = pairing.split(state, stay.to_dict(), OTHER, confusable_key(OTHER), _split(stay, OTHER))
    (lonely,) = [s for s in out.decided if s.state == "exit_without_entry"]
    assert lonely.exit_pass_id == stay.exit_pass_id  # not paired with the 12:00 visit
    assert state["open"][confusable_key(OTHER)]["session_id"] == scenario.sid(OTHER, "12:00")
    # The same for a correction of an exit-only session.
    pairing2, state2 = Pairing(orphan_after_ms=12 * 3_600_000), new_state()
    pairing2.apply(state2, scenario.a_pass("exit", "4XY2999", "11:00", confidence=0.8))
    (only,) = pairing2.apply(state2, scenario.a_pass("entry", "9LAT003", "11:20")).decided
    pairing2.apply(state2, scenario.a_pass("entry", ENTERED, "11:30"))
    out2 = pairing2.repair(state2, only.to_dict(), ENTERED, confusable_key(ENTERED), _correction(only, ENTERED))
    assert [s.state for s in out2.decided] == ["exit_without_entry"]  # moved, the 11:30 entry left open
    assert confusable_key(ENTERED) in state2["open"]


def test_a_session_a_correction_moved_away_is_not_put_back_by_a_replay_of_its_message():
    """After a crash the matcher reads the sessions topic again from its last committed offset:
    the session's own message must not bring back a session a correction moved to another key
    (a CI flake: the copy re-applied the decision and its review row lost the accuracy sample)."""
    from dataclasses import replace

    tariff = load_tariff(DEMO)
    pairing, state, ledger = Pairing(orphan_after_ms=12 * 3_600_000), new_state(), Ledger(None, 0)
    pairing.apply(state, scenario.a_pass("entry", "6QRS100", "10:10", confidence=0.8))
    (s,) = pairing.apply(state, scenario.a_pass("exit", "6QRS100", "10:30", confidence=0.8)).decided
    ledger.add_session(s)
    ledger.decide(s.session_id, tariff, WINDOWS)
    fix = _correction(s, "6QRS700")
    assert ledger.apply_review(fix)
    ledger.correct_out(fix)
    # The replayed message, and a replay of the decision: neither brings it back.
    assert not ledger.add_session(s) and s.session_id not in ledger.raw["sessions"]
    assert not ledger.apply_review(fix)
    # A later decision that corrects the plate back to this key does.
    back = {**_correction(s, "6QRS100"), "decision_id": f"{s.session_id}#2", "plate_before": "6QRS700"}
    assert ledger.add_session(replace(s, review=back)) and s.session_id in ledger.raw["sessions"]
    assert "moved" in ledger.raw and s.session_id not in ledger.raw["moved"]
    # A replay of the first decision after the second one is not applied again.
    assert not ledger.apply_review(fix) and ledger.raw["sessions"][s.session_id]["review"] == back
    # Tombstones are pruned with the sessions they stood for.
    ledger.mark_moved("g/OLD/1", "d", scenario.ms("10:00"), 2000)
    ledger.prune(scenario.at("10:00") + timedelta(days=8))
    assert "g/OLD/1" not in ledger.raw["moved"]


def test_a_split_stay_and_its_real_exit_are_not_put_back_by_a_replay_after_a_crash():
    """A crash soon after a split: the sessions topic is read again from the last committed
    offset, and the reviews topic too. Neither the stay's first message (the wrong pairing), nor
    the exit-only session its entry's real exit had become, nor the split decision itself may
    undo the split, in whichever order they come back around the re-closed stay."""
    from alpr.plates import confusable_key

    tariff = load_tariff(DEMO)
    pairing, state, ledger = Pairing(orphan_after_ms=12 * 3_600_000), new_state(), Ledger(None, 0)
    parked, left = "4ENT500", "7OTH222"
    pairing.apply(state, scenario.a_pass("entry", parked, "10:00"))
    pairing.apply(state, scenario.a_pass("entry", left, "10:05"))
    (wrong,) = pairing.apply(state, scenario.a_pass("exit", parked, "10:30")).decided  # left's exit
    assert not pairing.apply(state, scenario.a_pass("exit", parked, "11:00")).decided  # held: no entry left
    (real,) = pairing.apply(state, scenario.a_pass("entry", "9LAT003", "13:00")).decided
    assert (wrong.state, real.state) == ("closed", "exit_without_entry")
    for s in (wrong, real):
        assert ledger.add_session(s)
        ledger.decide(s.session_id, tariff, WINDOWS)
    split = {
        **_correction(wrong, left),
        "decision": "split",
        "plate_key": confusable_key(left),
    }
    assert ledger.apply_review(split)
    session, _, rejoin = ledger.split_out(wrong, split, "split in review")
    assert rejoin is not None and rejoin["session_id"] == real.session_id
    assert not ledger.raw["sessions"]
    session.pop("review", None)
    out = pairing.split(state, session, left, confusable_key(left), split, rejoin=rejoin)
    (again,) = [x for x in out.decided if x.session_id == wrong.session_id]
    assert (again.state, again.exit_ms, again.reopened) == ("closed", real.exit_ms, 1)
    # Replayed before the re-closed stay arrives: both messages, and the decision, are refused.
    assert not ledger.add_session(wrong) and not ledger.add_session(real)
    assert not ledger.apply_review(split) and not ledger.raw["sessions"]
    # The re-closed stay comes back (a higher version) ...
    assert ledger.add_session(again)
    assert wrong.session_id not in ledger.raw["moved"] and real.session_id in ledger.raw["moved"]
    # ... and a replay after it changes nothing: not the old message, not the decision.
    assert not ledger.add_session(wrong) and not ledger.add_session(real)
    assert not ledger.apply_review(split)
    assert ledger.raw["sessions"][wrong.session_id]["session"] == again.to_dict()
    assert set(ledger.raw["sessions"]) == {wrong.session_id}
    d = ledger.decide(wrong.session_id, tariff, WINDOWS)
    assert d is not None and d.match.evidence_pass_ids[-1] == again.exit_pass_id
