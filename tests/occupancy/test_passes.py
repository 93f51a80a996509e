"""The pure parts: folding reads into passes and counting them, with plain values (no I/O)."""

from __future__ import annotations

import random

from services.occupancy.occupancy import Effects, FacilityState, Occupancy, replay
from services.occupancy.passes import Lane, PassFolder, edit_distance, pass_message, same_vehicle
from services.occupancy.traffic import Traffic, read, vehicle
from tests.support.scripted_reads import EXPECTED_A_HISTORY, EXPECTED_OCCUPIED, EXPECTED_PASSES, at, scripted_reads


def occupancy() -> Occupancy:
    return Occupancy(
        PassFolder(gap_ms=3000, max_distance=1, no_plate_min_reads=2), {"garage-a": 2, "garage-b": 10}, 0.5
    )


def occupancy_of(capacity: int) -> Occupancy:
    return Occupancy(PassFolder(), {"garage-a": capacity}, 0.5)


def test_same_vehicle_knows_confusables_and_one_misread():
    assert same_vehicle("8ABC123", "BABC1Z3", 1)  # confusables only: equal keys
    assert same_vehicle("8ABC123", "8ABC128", 1)  # one non-confusable misread
    assert not same_vehicle("8ABC123", "8ABX928", 1)
    assert not same_vehicle("AB1", "AB7", 1)  # short plates must match exactly
    assert same_vehicle("8ABC123", None, 1)  # an unreadable frame of the vehicle
    assert edit_distance("8ABC123", "8ABC12", 1) == 1


def test_the_scripted_day_gives_the_exact_passes_and_counts():
    reads, last_exit = scripted_reads()
    states, effects = replay(occupancy(), reads + last_exit)
    assert {f: s.occupied for f, s in states.items()} == EXPECTED_OCCUPIED
    passes = {(p.facility_id, p.lane, p.plate or "") for p in effects.passes.values()}
    assert passes == EXPECTED_PASSES and len(effects.passes) == len(EXPECTED_PASSES)
    a_entry = effects.passes[f"garage-a/L1/{int(at(10).timestamp() * 1000)}"]
    assert (a_entry.plate, a_entry.read_count) == ("8ABC123", 4)
    # voted: the first character is split 8 (0.9 + 0.6 + 0.97) against B (0.7)
    assert abs(a_entry.confidence - 0.97 * 2.47 / 3.17) < 1e-3
    assert a_entry.best_read_id.endswith(f":{int(at(10.75).timestamp() * 1000)}#0") and a_entry.crop_jpeg_b64
    no_plate = effects.passes[f"garage-a/L1/{int(at(20).timestamp() * 1000)}"]
    assert no_plate.plate is None and no_plate.read_count == 3 and no_plate.confirmed
    # The alpr.passes.v1 messages revenue consumes (validated by the contract model).
    message = pass_message(a_entry)
    assert (message.plate_key, message.version, len(message.read_ids)) == ("8A8C123", 4, 4)
    assert message.best_crop_jpeg_b64 and message.models.reader == "synthetic@1"
    assert message.context_jpeg_b64 == a_entry.context_jpeg_b64 != ""  # the vehicle in view, for appeals
    assert pass_message(no_plate).plate is None and pass_message(no_plate).plate_key is None
    history = [(h["occupied"], h["delta"], h["note"]) for h in effects.history if h["facility_id"] == "garage-a"]
    assert history == EXPECTED_A_HISTORY
    # Events only on a change; each carries the capture time of the read that caused it.
    assert [(e.facility_id, e.occupied) for e in effects.events] == [
        ("garage-a", 1),
        ("garage-a", 2),
        ("garage-a", 3),
        ("garage-b", 1),
        ("garage-a", 2),
    ]
    assert all(e.origin_captured_at is not None and e.available == e.capacity - e.occupied for e in effects.events)
    assert effects.skipped == {"no_plate": 1, "duplicate_read": 1}


def test_redelivery_and_republished_reads_change_nothing():
    occ = occupancy()
    reads = vehicle("garage-a", "L1", "entry", at(0), "8ABC123") + vehicle("garage-a", "L1", "entry", at(10), "7XYZ999")
    state = FacilityState("garage-a")
    first = Effects()
    for offset, r in enumerate(reads):
        occ.apply(state, r, 0, offset, first)
    snapshot = FacilityState.from_state(state.to_state())  # what the changelog gives back after a crash
    again = Effects()
    for offset, r in enumerate(reads):  # redelivered from an older committed offset
        occ.apply(snapshot, r, 0, offset, again)
    for offset, r in enumerate(reads, start=100):  # re-published by the recognizer: new offsets, same ids
        occ.apply(snapshot, r, 0, offset, again)
    assert snapshot.occupied == state.occupied == 2
    assert again.history == [] and again.events == []
    assert again.skipped == {"redelivered": len(reads), "duplicate_read": len(reads)}


def test_a_pass_re_formed_from_older_reads_is_counted_once():
    occ = occupancy()
    state = FacilityState("garage-b")
    reads = vehicle("garage-b", "L1", "entry", at(0), "3JKP555")
    effects = Effects()
    for offset, r in enumerate(reads):
        occ.apply(state, r, 0, offset, effects)
    state.recent_reads.clear()
    state.__post_init__()  # forget the read ids (a long outage): the pass id still guards the count
    state.lanes.clear()
    for offset, r in enumerate(reads, start=50):
        occ.apply(state, r, 0, offset, effects)
    assert state.occupied == 1 and len(effects.history) == 1


def test_state_round_trips_through_the_changelog_form():
    occ = occupancy()
    states, _ = replay(occ, Traffic(["garage-b"], seed=3).reads(30))
    state = states["garage-b"]
    again = FacilityState.from_state(state.to_state())
    assert again.to_state() == state.to_state()


def test_crops_too_large_for_the_state_are_dropped_not_the_pass():
    folder, lane = PassFolder(crop_max_bytes=10), Lane()
    folder.fold(lane, read("garage-a", "L1", "entry", at(0), "8ABC123"))
    result = folder.fold(lane, read("garage-a", "L1", "entry", at(0.25), "8ABC123"))
    assert result.newly_confirmed and result.current.crop_jpeg_b64 == ""
    assert result.current.context_jpeg_b64  # within its own limit


def test_context_frames_too_large_for_the_state_are_dropped_not_the_pass():
    folder, lane = PassFolder(context_max_bytes=10), Lane()
    folder.fold(lane, read("garage-a", "L1", "entry", at(0), "8ABC123"))
    result = folder.fold(lane, read("garage-a", "L1", "entry", at(0.25), "8ABC123"))
    assert result.newly_confirmed and result.current.context_jpeg_b64 == "" and result.current.crop_jpeg_b64
    assert pass_message(result.current).context_jpeg_b64 is None


def test_fragments_neither_split_a_vehicle_nor_count_and_the_next_vehicle_still_counts():
    """Seen on the demo footage: a lone misread ('LPL0509', 'Y') among a vehicle's reads."""
    folder, lane, results = PassFolder(), Lane(), []

    def fold(t, plate, conf=0.97):
        results.append(folder.fold(lane, read("garage-a", "L1", "entry", at(t), plate, confidence=conf)))
        return results[-1]

    assert not fold(0.0, "LPL6569").newly_confirmed  # one read is not yet a vehicle
    assert fold(0.25, "LPL6569").newly_confirmed  # two agreeing reads are
    r = fold(0.5, "LPL0509")  # a fragment inside the window: a pass of its own
    assert not r.newly_confirmed and r.current.plate == "LPL0509"
    r = fold(0.75, "LPL6569")  # the vehicle goes on: same pass
    assert r.current.read_count == 3 and r.current.pass_id.endswith(str(int(at(0).timestamp() * 1000)))
    # Alternating fragments inside the vehicle's window never add up (seen on the demo: 'AG006AM').
    assert not any(fold(t, p, 0.6).newly_confirmed for t, p in ((0.9, "AG006AM"), (1.0, "TEMP0RARY"), (1.1, "AG006AM")))
    assert not fold(2.0, "Y", 0.57).newly_confirmed  # a lone fragment after it: never counted
    # The next vehicle, close behind: its second read confirms it.
    assert not fold(2.5, "KZY2060").newly_confirmed
    r = fold(2.75, "KZY2060")
    assert r.newly_confirmed and r.current.plate == "KZY2060"
    assert sum(x.newly_confirmed for x in results) == 2


def test_a_redelivered_read_older_than_the_lanes_horizon_is_skipped():
    """After a broker restart the recognizer may redeliver hundreds of reads, more than the
    recent-read window holds: a read older than the lane's horizon is late, not a vehicle."""
    occ = Occupancy(PassFolder(horizon_ms=5000), {"garage-a": 10}, 0.5, recent_ids=2)
    first = [read("garage-a", "L1", "entry", at(t), "8ABC123") for t in (0, 0.25, 0.5)]
    second = [read("garage-a", "L1", "entry", at(t), "7XYZ987") for t in (10, 10.25)]
    states, effects = replay(occ, first + second + first[1:])  # old reads come back after the window forgot them
    assert states["garage-a"].occupied == 2
    assert len(effects.passes) == 2 and effects.skipped == {"late": 2}
    assert [p.plate for p in states["garage-a"].lanes["L1"].passes] == ["7XYZ987"]  # the first was let go


def test_reads_of_two_replicas_out_of_capture_order_give_the_clean_run():
    """Seen with `alpr demo --restart-broker-after`: a vehicle's second read arrived after the
    next vehicle's reads. Each vehicle must still be one pass, counted once."""
    a = vehicle("garage-a", "L1", "entry", at(0), "87O4347", frames=2)
    b = vehicle("garage-a", "L1", "entry", at(4), "5KLM001", frames=3)
    c = vehicle("garage-a", "L1", "entry", at(8), "6PQR222", frames=3)
    clean, clean_effects = replay(occupancy_of(10), a + b + c)
    late, late_effects = replay(occupancy_of(10), [a[0], *b, a[1], *c])  # a[1] published late
    assert clean["garage-a"].occupied == late["garage-a"].occupied == 3
    assert set(clean_effects.passes) == set(late_effects.passes)
    # ...and a vehicle whose every read came after the next one's (a replica's whole batch late).
    later, _ = replay(occupancy_of(10), [*b, *c, *a])
    assert later["garage-a"].occupied == 3


def test_any_arrival_order_within_the_horizon_counts_each_vehicle_once():
    reads = Traffic(["garage-a"], seed=11, vehicle_gap_s=4.0).reads(40)
    _, clean_effects = replay(occupancy_of(1000), reads)
    rng = random.Random(5)
    for _ in range(20):
        # Each read is delayed by up to 20 s of capture time (within the 30 s horizon).
        shuffled = sorted(reads, key=lambda r: r.captured_at.timestamp() + rng.uniform(0, 20))
        _, effects = replay(occupancy_of(1000), shuffled)
        assert {(p.lane, p.plate) for p in effects.passes.values()} == {
            (p.lane, p.plate) for p in clean_effects.passes.values()
        }
        assert len(effects.history) == len(clean_effects.history)  # each pass counted once
        # The count itself: entries only (an exit folded before its own entry would meet the
        # clamp at zero, which is order-dependent by design).
        states, _ = replay(occupancy_of(1000), [r for r in shuffled if r.lane == "L1"])
        assert states["garage-a"].occupied == len({p.plate for p in clean_effects.passes.values() if p.lane == "L1"})


def test_state_written_before_lanes_kept_several_passes_still_loads():
    old = {
        "facility_id": "garage-a",
        "occupied": 1,
        "lanes": {
            "L1": {
                "pass_id": "garage-a/L1/0",
                "facility_id": "garage-a",
                "lane": "L1",
                "camera_id": "c",
                "direction": "entry",
                "first_seen_ms": 0,
                "last_seen_ms": 250,
                "plate": "8ABC123",
                "confirmed": True,
                "read_count": 2,
                "rival": None,
            }
        },
    }
    state = FacilityState.from_state(old)
    assert [p.pass_id for p in state.lanes["L1"].passes] == ["garage-a/L1/0"]
    assert FacilityState.from_state(state.to_state()).to_state() == state.to_state()


def _fold(reads):
    folder, lane = PassFolder(), Lane()
    for r in reads:
        result = folder.fold(lane, r)
    return result.current


def test_a_pass_votes_its_plate_from_all_its_frames_not_the_most_confident_one():
    start = at(10)
    reads = [
        read("garage-a", "L1", "entry", start, "8ABC123", confidence=0.80),
        read("garage-a", "L1", "entry", at(10.25), "8A8C123", confidence=0.95),  # the most confident, wrong
        read("garage-a", "L1", "entry", at(10.5), "8ABC123", confidence=0.85),
    ]
    p = _fold(reads)
    assert p.plate == "8ABC123" and p.read_count == 3
    # the evidence crop is the most confident read *of the voted plate*
    assert p.best_read_id == reads[2].read_id and p.best_plate == "8ABC123"
    assert p.confidence < 0.85  # the split third character lowers the pass's confidence
    assert pass_message(p).plate == "8ABC123"


def test_a_frame_that_dropped_a_character_still_votes_on_the_others():
    reads = [
        read("garage-a", "L1", "entry", at(10), "7XYZ999", confidence=0.70),
        read("garage-a", "L1", "entry", at(10.25), "7XY999", confidence=0.95),
        read("garage-a", "L1", "entry", at(10.5), "7XYZ999", confidence=0.75),
    ]
    p = _fold(reads)
    assert p.plate == "7XYZ999"


def test_a_single_read_pass_and_an_old_state_keep_their_plate():
    one = _fold([read("garage-a", "L1", "entry", at(10), "5EXT001", confidence=0.9)])
    assert (one.plate, one.confidence) == ("5EXT001", 0.9)
    # a pass saved before votes were kept: its plate votes as one read
    from services.occupancy.passes import Pass

    state = one.to_state()
    del state["votes"], state["best_plate"], state["best_confidence"]
    lane = Lane([Pass.from_state(state)], one.last_seen_ms, -1)
    later = PassFolder().fold(lane, read("garage-a", "L1", "entry", at(10.25), "5EXT001", confidence=0.8)).current
    assert later.plate == "5EXT001" and later.read_count == 2 and len(later.votes) == 2


def test_an_exit_seen_before_its_vehicles_entry_is_held_not_lost():
    # The exit lane's reads arrive first (its recognizer replica caught up sooner after a
    # broker restart): the count must end where capture order says, not one vehicle high.
    occ = occupancy_of(10)
    entry = vehicle("garage-a", "L1", "entry", at(10), "8ABC123", frames=2)
    exit_ = vehicle("garage-a", "L2", "exit", at(60), "8ABC123", frames=2)
    second = vehicle("garage-a", "L1", "entry", at(70), "7XYZ999", frames=2)
    states, effects = replay(occ, exit_ + entry + second)
    assert states["garage-a"].occupied == 1  # the second vehicle only
    notes = [row["note"] for row in effects.history]
    assert notes[0] == "exit with occupancy at 0: not counted, held for a late entry"
    assert notes[1].startswith("entry arrived after an exit counted at 0") and notes[2] == ""
    assert states["garage-a"].deferred_exits == []


def test_an_exit_without_any_entry_is_forgotten_after_the_window():
    from services.occupancy.occupancy import DEFER_EXIT_MS, FacilityState

    occ = occupancy_of(10)
    parked_before_start = vehicle("garage-a", "L2", "exit", at(0), "5EXT001", frames=2)
    much_later = vehicle("garage-a", "L1", "entry", at(DEFER_EXIT_MS / 1000 + 60), "8ABC123", frames=2)
    states, _ = replay(occ, parked_before_start + much_later)
    assert states["garage-a"].occupied == 1 and states["garage-a"].deferred_exits == []
    # deferred exits survive a restart (they are part of the table value)
    state = FacilityState.from_state(replay(occ, parked_before_start)[0]["garage-a"].to_state())
    assert len(state.deferred_exits) == 1
