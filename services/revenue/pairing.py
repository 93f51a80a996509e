"""Pairing: a facility's passes in order -> sessions (entry paired with exit, by plate).

Pure: `Pairing.apply(state, pass)` changes the facility's state and returns the sessions
that changed; no I/O. The state of one facility is one value (one faust table key), so it
is saved atomically: after a crash either the whole batch's effect on the facility is in
the changelog or none of it, and the replayed passes find the state they expect.

The rules:

* A pass is acted on once, at its first version that has a plate; later versions (the
  occupancy service republishes a pass when more reads improve it) refresh the evidence
  only. Versions at or below one already seen are ignored: redelivery changes nothing.
* An exit pairs with the open entry of the same plate *key* (`confusable_key`: 8/B, 0/O/D/Q,
  1/I/L, 5/S, 2/Z, 6/G folded): confidence 1.0 when the plates are equal, 0.9 when only the
  keys are. Failing that, with an entry whose key is one edit away (plates of 5+
  characters): confidence 0.7. The session keeps the entry's plate and id.
* An exit with no candidate waits for its entry (`held_exits`): lanes reach the facility's
  stream out of capture order whenever one lane's frames or reads are delayed and the
  other's are not (a recognizer replica catching up, a broker failing over the partitions it
  led). An entry captured at or before a held exit pairs with it as if it had come first.
  An exit still unpaired `exit_hold_ms` of stream time later is `exit_without_entry`.
* An entry of a plate that already has an open session closes that one as `orphan_entry`
  (its exit was missed).
* A patrol pass of an open session's plate confirms the vehicle is present (evidence); a
  patrol pass of an unknown plate opens a session (entry not seen, confidence 0.5).
* Entries older than `orphan_after` in the facility's stream time close as `orphan_entry`.
  Stream time (the latest pass seen), not the wall clock, so a replay decides the same.
* A reviewer's correction of an `exit_without_entry` session's plate (`repair`) pairs its exit
  again, under the corrected plate: with that plate's open entry, which closes as the stay
  (carrying the decision, and superseding the exit-only session), or, with no open entry, the
  exit-only session moves to the corrected plate. Once per session: a redelivered correction
  changes nothing. An exit paired again after review closes only an entry made before it (the
  open entry of its plate may be a later visit).
* A reviewer's `split` of a closed stay (`split`: its exit was another vehicle's, a misread
  that pairs with a parked car's entry) undoes the stay. The exit is paired again under the
  plate the reviewer read, as a correction is (that plate's open entry closes with it, carrying
  the decision; else it is an exit-only session). The entry is open again under its own id
  (`Session.reopened`), and pairs with its vehicle's real exit: one still waiting
  (`held_exits`), one that arrives later, or the exit-only session that exit already became
  (`rejoin`, which the matcher finds in the entry's ledger; superseded by the stay). An entry
  whose plate has entered again since closes as `orphan_entry`. Once per decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alpr.contracts.models import Pass
from alpr.plates import edit_distance
from services.revenue.session import Session, dt_to_ms, session_id

MAX_PATROL_IDS = 10
# How long (stream time) an exit without an entry waits for one that arrives late, at most
# (never longer than an entry waits for its exit): the occupancy service holds such exits
# as long (services/occupancy/occupancy.py, DEFER_EXIT_MS).
EXIT_HOLD_MS = 10 * 60_000


def new_state() -> dict[str, Any]:
    """A facility's pairing state: open sessions by plate key, exits waiting for their entry,
    recent pass versions, exit-only sessions repaired after review, stream time."""
    return {"open": {}, "held_exits": {}, "seen": {}, "repaired": {}, "watermark_ms": 0}


@dataclass
class Outcome:
    """What one pass did: sessions to write (any state) and those the matcher must decide."""

    written: list[Session] = field(default_factory=list)
    decided: list[Session] = field(default_factory=list)
    acted: bool = False

    def add(self, session: Session) -> None:
        self.written.append(session)
        if session.state != "open":
            self.decided.append(session)


@dataclass
class Pairing:
    """The pairing rules (module docstring); holds no state of its own."""

    orphan_after_ms: int
    recent_ids: int = 1024
    exit_hold_ms: int = EXIT_HOLD_MS

    @property
    def hold_ms(self) -> int:
        return min(self.exit_hold_ms, self.orphan_after_ms)

    def apply(self, state: dict[str, Any], p: Pass) -> Outcome:
        out = Outcome()
        seen: dict[str, list[int]] = state["seen"]
        before = seen.get(p.pass_id)
        if before is not None and p.version <= before[0]:
            return out  # a redelivery or an older version
        acted = bool(before and before[1])
        seen.pop(p.pass_id, None)
        seen[p.pass_id] = [p.version, int(acted or p.plate is not None)]
        while len(seen) > self.recent_ids:  # dicts keep insertion order: drop the oldest
            seen.pop(next(iter(seen)))
        at = dt_to_ms(p.first_seen)
        state["watermark_ms"] = max(state["watermark_ms"], at)
        if acted:
            self._refresh(state, p, out)
        elif p.plate is not None:
            out.acted = True
            {"entry": self._entry, "exit": self._exit, "patrol": self._patrol}[p.direction](state, p, at, out)
        self.sweep(state, out)
        return out

    def repair(self, state: dict[str, Any], old: dict[str, Any], plate: str, key: str, review: dict) -> Outcome:
        """Pair the exit of the exit-only session `old` (a Session dict) again under the plate a
        reviewer read (`plate`, confusable key `key`); `review` is the decision. See the module doc."""
        out = Outcome()
        done = state.setdefault("repaired", {})
        if old["session_id"] in done:
            return out  # a redelivered correction, or a replay of one applied before the crash
        done[old["session_id"]] = review["decision_id"]
        while len(done) > self.recent_ids:
            done.pop(next(iter(done)))
        out.acted = True
        exit_ = {
            "pass_id": old["exit_pass_id"],
            "facility_id": old["facility_id"],
            "plate": plate,
            "key": key,
            "exit_ms": old["exit_ms"],
            "confidence": old["exit_confidence"],
        }
        why = f"exit plate corrected in review by {review['reviewer']} ({review['plate_before']} -> {plate})"
        if not self._earlier_candidate(state, key, exit_["exit_ms"]):
            moved = Session.from_dict(dict(old, plate=plate, plate_key=key, review=review, supersedes=""))
            moved.pair_reason = f"{why}; no open entry of {plate}"
            moved.watermark_ms = state["watermark_ms"]
            out.add(moved)
            return out
        self._close(state, exit_, out)
        stay = out.written[-1]
        stay.review, stay.supersedes = review, old["session_id"]
        stay.pair_reason = f"{stay.pair_reason}; {why}"
        gone = Session.from_dict(
            dict(old, plate=review["plate_before"], state="superseded", review=None, supersedes="")
        )
        gone.pair_reason = f"{why}: re-paired with session {stay.session_id}"
        gone.watermark_ms = state["watermark_ms"]
        out.written.append(gone)  # its row only: the stay is what the matcher decides
        return out

    def split(
        self,
        state: dict[str, Any],
        stay: dict[str, Any],
        plate: str,
        key: str,
        review: dict,
        rejoin: dict[str, Any] | None = None,
    ) -> Outcome:
        """Undo the closed stay `stay` (a Session dict) whose exit a reviewer read as another
        vehicle's plate `plate` (confusable key `key`); `rejoin` is the exit-only session of the
        entry's plate that its real exit became, if any. See the module doc."""
        out = Outcome()
        done = state.setdefault("repaired", {})
        mark = f"split:{review['decision_id']}"
        if mark in done:
            return out  # a redelivered decision, or a replay of one applied before the crash
        done[mark] = review["decision_id"]
        while len(done) > self.recent_ids:
            done.pop(next(iter(done)))
        out.acted = True
        why = f"exit found in review by {review['reviewer']} to be {plate}'s, not {stay['plate']}'s"
        # The exit first: the entry it was wrongly paired with must not be its candidate again.
        exit_ = {
            "pass_id": stay["exit_pass_id"],
            "facility_id": stay["facility_id"],
            "plate": plate,
            "key": key,
            "exit_ms": stay["exit_ms"],
            "confidence": stay["exit_confidence"],
        }
        if self._earlier_candidate(state, key, exit_["exit_ms"]):
            self._close(state, exit_, out)
            other = out.written[-1]
            other.review = review  # the reviewer's read of the exit is what pairs it
            other.pair_reason = f"{other.pair_reason}; {why}"
        else:
            out.add(
                Session(
                    f"{stay['facility_id']}/{plate}/exit-{stay['exit_ms']}",
                    stay["facility_id"],
                    plate,
                    key,
                    "exit_without_entry",
                    exit_pass_id=stay["exit_pass_id"],
                    exit_ms=stay["exit_ms"],
                    exit_confidence=stay["exit_confidence"],
                    pair_confidence=0.0,
                    pair_reason=f"{why}; no open entry of {plate}",
                    watermark_ms=state["watermark_ms"],
                    review=review,
                )
            )
        entry = Session.from_dict(
            dict(
                stay,
                state="open",
                exit_pass_id="",
                exit_ms=None,
                exit_confidence=0.0,
                pair_confidence=1.0,
                review=None,
                supersedes="",
                reopened=stay.get("reopened", 0) + 1,
            )
        )
        entry.watermark_ms = state["watermark_ms"]
        if rejoin is not None:
            # Its vehicle's real exit found no entry (this one was taken) and is an exit-only session.
            entry.state, entry.supersedes = "closed", rejoin["session_id"]
            entry.exit_pass_id, entry.exit_ms = rejoin["exit_pass_id"], rejoin["exit_ms"]
            entry.exit_confidence = rejoin["exit_confidence"]
            same = rejoin["plate"] == entry.plate
            entry.pair_confidence = 1.0 if same else 0.9
            how = "same plate" if same else "same plate after folding confusable characters"
            entry.pair_reason = f"exit {rejoin['plate']} paired with entry {entry.plate}: {how}; {why}"
            out.add(entry)
            gone = Session.from_dict(dict(rejoin, state="superseded", review=None, supersedes=""))
            gone.pair_reason = f"re-paired with session {entry.session_id} ({why})"
            gone.watermark_ms = state["watermark_ms"]
            out.written.append(gone)  # its row only: the stay is what the matcher decides
        elif entry.plate_key in state["open"]:
            entry.state = "orphan_entry"
            entry.pair_reason = f"{why}; its plate entered again since, so its own exit was missed"
            out.add(entry)
        else:
            entry.pair_reason = f"entry open again: {why}"
            state["open"][entry.plate_key] = entry.to_dict()
            out.add(entry)
            self._pair_held(state, entry.plate_key, stay["entry_ms"], out)
        return out

    # -- directions ------------------------------------------------------------------------
    def _entry(self, state: dict, p: Pass, at: int, out: Outcome) -> None:
        key = p.plate_key or p.plate
        previous = state["open"].pop(key, None)
        if previous is not None:
            s = Session.from_dict(previous)
            s.state, s.pair_reason = "orphan_entry", "entered again before an exit was seen"
            s.watermark_ms = state["watermark_ms"]
            out.add(s)
        s = Session(
            session_id(p.facility_id, p.plate, at),
            p.facility_id,
            p.plate,
            key,
            "open",
            entry_pass_id=p.pass_id,
            entry_ms=at,
            entry_confidence=p.confidence,
            pair_reason="entry",
            watermark_ms=state["watermark_ms"],
        )
        state["open"][key] = s.to_dict()
        out.add(s)
        self._pair_held(state, key, at, out)

    def _pair_held(self, state: dict, key: str, at: int, out: Outcome) -> None:
        """An exit of the vehicle whose entry (plate key `key`, captured at `at`) just opened that
        arrived first (captured at or after the entry) closes it now."""
        held = state.setdefault("held_exits", {})
        for pass_id, exit_ in sorted(held.items(), key=lambda kv: kv[1]["exit_ms"]):
            found = self._candidate(state, exit_["key"], exit_["exit_ms"]) if exit_["exit_ms"] >= at else None
            if found is not None and found[0] == key:
                del held[pass_id]
                self._close(state, exit_, out)
                break  # the entry is closed: a second held exit of the plate waits for its own entry

    def _exit(self, state: dict, p: Pass, at: int, out: Outcome) -> None:
        exit_ = {
            "pass_id": p.pass_id,
            "facility_id": p.facility_id,
            "plate": p.plate,
            "key": p.plate_key or p.plate,
            "exit_ms": at,
            "confidence": p.confidence,
        }
        if self._candidate(state, exit_["key"], at) is None:
            state.setdefault("held_exits", {})[p.pass_id] = exit_
            return
        self._close(state, exit_, out)

    def _close(self, state: dict, exit_: dict, out: Outcome) -> None:
        """Pair an exit (a pass or a held one) with its open entry, which must exist."""
        at = exit_["exit_ms"]
        open_key, confidence, how = self._candidate(state, exit_["key"], at)
        s = Session.from_dict(state["open"].pop(open_key))
        if s.plate == exit_["plate"]:
            confidence, how = 1.0, "same plate"
        s.state, s.exit_pass_id, s.exit_ms, s.exit_confidence = "closed", exit_["pass_id"], at, exit_["confidence"]
        s.pair_confidence = confidence
        s.pair_reason = f"exit {exit_['plate']} paired with entry {s.plate}: {how}"
        s.watermark_ms = state["watermark_ms"]
        out.add(s)

    def _patrol(self, state: dict, p: Pass, at: int, out: Outcome) -> None:
        key = p.plate_key or p.plate
        found = self._candidate(state, key, at)
        if found is None:
            s = Session(
                session_id(p.facility_id, p.plate, at),
                p.facility_id,
                p.plate,
                key,
                "open",
                entry_pass_id=p.pass_id,
                entry_ms=at,
                entry_confidence=p.confidence,
                pair_confidence=0.5,
                pair_reason="entry not seen; first seen by patrol",
                watermark_ms=state["watermark_ms"],
            )
            state["open"][key] = s.to_dict()
            out.add(s)
            return
        s = Session.from_dict(state["open"][found[0]])
        if len(s.patrol_pass_ids) < MAX_PATROL_IDS:
            s.patrol_pass_ids.append(p.pass_id)
        state["open"][found[0]] = s.to_dict()
        out.add(s)

    def _refresh(self, state: dict, p: Pass, out: Outcome) -> None:
        # A better version of a pass already acted on: the confidence of the open entry moves;
        # the pairing itself stands (its evidence rows carry the latest version).
        for raw in state["open"].values():
            if raw["entry_pass_id"] == p.pass_id:
                raw["entry_confidence"] = max(raw["entry_confidence"], p.confidence)

    def _earlier_candidate(self, state: dict, key: str, at: int) -> bool:
        """An exit paired again after review (hours later) may only close an entry made before it:
        the open entry of its plate may be a later visit of that vehicle."""
        found = self._candidate(state, key, at)
        return found is not None and state["open"][found[0]]["entry_ms"] <= at

    def _candidate(self, state: dict, key: str, at: int) -> tuple[str, float, str] | None:
        """The open session an exit (or patrol) of plate key `key` belongs to."""
        if key in state["open"]:
            return key, 0.9, "same plate after folding confusable characters"
        if len(key) < 5:
            return None
        near = [
            (raw["entry_ms"], k)
            for k, raw in state["open"].items()
            if len(k) >= 5 and raw["entry_ms"] <= at and edit_distance(k, key) <= 1
        ]
        if not near:
            return None
        near.sort(reverse=True)  # the latest entry: the most plausible one still inside
        return near[0][1], 0.7, "plates one character apart"

    # -- time ------------------------------------------------------------------------------
    def sweep(self, state: dict, out: Outcome) -> None:
        """Close entries older than the orphan time (in the facility's stream time)."""
        # Once per minute of stream time is enough for an orphan time counted in hours, and
        # keeps the per-pass cost independent of how many vehicles are parked.
        if state["watermark_ms"] < state.get("swept_ms", 0) + 60_000:
            return
        state["swept_ms"] = state["watermark_ms"]
        held = state.setdefault("held_exits", {})
        for pass_id in [i for i, e in held.items() if e["exit_ms"] < state["watermark_ms"] - self.hold_ms]:
            e = held.pop(pass_id)
            out.add(
                Session(
                    f"{e['facility_id']}/{e['plate']}/exit-{e['exit_ms']}",
                    e["facility_id"],
                    e["plate"],
                    e["key"],
                    "exit_without_entry",
                    exit_pass_id=e["pass_id"],
                    exit_ms=e["exit_ms"],
                    exit_confidence=e["confidence"],
                    pair_confidence=0.0,
                    pair_reason="exit without a matching entry",
                    watermark_ms=state["watermark_ms"],
                )
            )
        limit = state["watermark_ms"] - self.orphan_after_ms
        for key in [k for k, raw in state["open"].items() if raw["entry_ms"] < limit]:
            s = Session.from_dict(state["open"].pop(key))
            s.state = "orphan_entry"
            s.pair_reason = f"no exit within {self.orphan_after_ms / 3_600_000:g} h"
            s.watermark_ms = state["watermark_ms"]
            out.add(s)
