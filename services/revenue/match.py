"""Match: a session joined with the payments and permits of its plate -> one financial outcome.

Pure: `decide(session, payments, ...)` returns the `RevenueMatch`, the `Violation` (if
any) and the record of the payment lookup made (kept as appeal evidence). `Ledger` is the
matcher's state for one plate key (payments, sessions and the decisions published), one
faust table value, so that it is saved atomically and a replay finds it consistent.

The rules:

* Candidates are the payments of the same plate key (`confusable_key`): a payment
  under "8ABC123" pays for a session read as "8A8C123". Each payment pays for one
  session: the first decided session whose window holds it claims it.
* A permit (facility or '*') pays for the stay when its type is accepted by the facility's
  tariff and its validity covers the stay: status `permit`. A permit that exists but does
  not (wrong type, expired, other facility) is remembered: an unpaid stay becomes an
  `invalid_permit` violation.
* Other kinds (pay-by-plate, pay-station, validation) count when paid within
  [entry - payment_early, exit + payment_late] in the session's facility.
* Due is the tariff's fee. paid == due: matched; 0 < paid < due: underpaid; paid == 0 <
  due: unpaid; paid > due: overpaid. A stay within the grace period is due nothing.
* Violations (only for closed sessions, which have entry and exit evidence): unpaid and
  underpaid stays beyond the grace period; `overstay` when a pay-by-plate payment's
  validity ended before the exit; `invalid_permit` as above. Orphan entries and exits without entry are
  reported as matches, never cited: half the evidence is missing.
* A payment nobody claimed, past its window in stream time, is `payment_without_session`.

When: a session is decided once its payment window has closed in stream time (exit +
payment_late), so a payment published a little after the exit still counts and no
provisional "unpaid" is ever published for a paid stay. When the passes stop, the idle
clock moves stream time on (`services.revenue.clock`). A payment arriving after that
(a permit issued retroactively) revises the decision: the match is republished and the
latest one per session wins (ReplacingMergeTree(decided_at)).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alpr.contracts.models import Payment, RevenueMatch, Violation
from services.revenue.review import ReviewPolicy
from services.revenue.session import Session, ms_to_dt
from services.revenue.tariff import Tariff

# Decided sessions and spent payments stay in the ledger this long (stream time), so that a
# late payment can still revise a decision; permits stay until they expire.
LEDGER_KEEP = timedelta(days=7)
PAID_KINDS = ("pay_by_plate", "pay_station", "validation")


@dataclass(frozen=True)
class Windows:
    """How far before an entry and after an exit a payment still counts."""

    early: timedelta = timedelta(minutes=15)
    late: timedelta = timedelta(minutes=60)
    orphan_after: timedelta = timedelta(hours=24)


@dataclass
class Decision:
    """A match, maybe a violation, and the lookup that led to them (evidence)."""

    match: RevenueMatch
    violation: Violation | None
    lookup: dict[str, Any]
    claimed: list[str] = field(default_factory=list)
    # Why a person should look at the session (services.revenue.review); empty: no task.
    review_reasons: list[str] = field(default_factory=list)
    # A violation issued before that this decision voids (set by `Ledger.decide`).
    withdrawn: Violation | None = None

    @functools.cached_property
    def digest(self) -> str:
        """What makes two decisions the same one: republish only when it changes."""
        m = self.match
        body = [
            m.status,
            m.amount_due_cents,
            m.amount_paid_cents,
            sorted(m.payment_ids),
            m.evidence_pass_ids,
            self.violation.kind if self.violation else None,
            self.violation.verified_by if self.violation else None,
            m.plate,
            m.tariff_version,
            self.review_reasons,
        ]
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()[:16]


def _status(due: int, paid: int) -> str:
    if paid == due:
        return "matched"
    if paid > due:
        return "overpaid"
    return "unpaid" if paid == 0 else "underpaid"


def decide(
    session: Session,
    payments: list[Payment],
    claimed_elsewhere: set[str],
    tariff: Tariff,
    windows: Windows,
    now: datetime | None = None,
    policy: ReviewPolicy | None = None,
    review: dict[str, Any] | None = None,
) -> Decision:
    """The outcome of one session given every payment of its plate key. A violation is issued
    only on a verified read (`policy`, services.revenue.review); `review` is a reviewer's
    decision on the session (alpr.review-decisions.v1), if any."""
    policy = policy or ReviewPolicy()
    now = now or datetime.now(UTC)
    entry, exit = session.entry_at, session.exit_at
    start = entry or exit
    end = exit or (entry + windows.orphan_after if entry else None)
    assert start is not None and end is not None
    lookup: dict[str, Any] = {
        "plate": session.plate,
        "plate_key": session.plate_key,
        "facility_id": session.facility_id,
        "window_from": (start - windows.early).isoformat(),
        "window_to": (end + windows.late).isoformat(),
        "candidates": [],
    }
    permit_ok: Payment | None = None
    permit_bad: list[str] = []
    used: list[Payment] = []
    for p in sorted(payments, key=lambda p: (p.paid_at, p.payment_id)):
        verdict = ""
        here = p.facility_id in (session.facility_id, "*")
        if p.payment_id in claimed_elsewhere:
            verdict = "already pays for another session"
        elif p.kind == "permit":
            if not here:
                verdict = f"permit for facility {p.facility_id}"
                permit_bad.append(verdict)
            elif not tariff.accepts_permit(session.facility_id, p.permit_type):
                verdict = f"permit type {p.permit_type!r} not accepted here"
                permit_bad.append(verdict)
            elif not (p.valid_from <= start and end <= p.valid_until):
                verdict = (
                    f"permit valid {p.valid_from.isoformat()} to {p.valid_until.isoformat()} does not cover the stay"
                )
                permit_bad.append(verdict)
            elif permit_ok is None:
                permit_ok, verdict = p, "valid permit"
        elif not here:
            verdict = f"paid for facility {p.facility_id}"
        elif not (start - windows.early <= p.paid_at <= end + windows.late):
            verdict = "paid outside the session's window"
        else:
            used.append(p)
            verdict = "counts"
        lookup["candidates"].append(
            {
                "payment_id": p.payment_id,
                "kind": p.kind,
                "plate": p.plate,
                "amount_cents": p.amount_cents,
                "verdict": verdict,
            }
        )

    fee = tariff.fee(session.facility_id, start, end) if entry is not None else None
    paid = sum(p.amount_cents for p in used)
    lookup["fee"] = {"rule": fee.rule, "lines": list(fee.lines)} if fee else None
    base = {
        "closed": session.pair_confidence,
        "orphan_entry": 0.5 * session.pair_confidence,
        "exit_without_entry": 0.0,
    }.get(session.state, session.pair_confidence)
    exact = all(p.plate == session.plate for p in used + ([permit_ok] if permit_ok else []))
    confidence = round(base * (1.0 if exact else 0.9), 3)
    claimed = [p.payment_id for p in used]
    reason_bits = [session.pair_reason] if session.pair_reason else []
    if permit_ok is not None:
        status, due, paid = "permit", 0, 0
        claimed = []
        reason_bits.append(f"permit {permit_ok.payment_id} ({permit_ok.permit_type})")
    elif fee is None:
        due, status = paid, ("matched" if paid else "unpaid")
        reason_bits.append("entry not seen: fee unknown")
    else:
        due = fee.amount_cents
        status = _status(due, paid)
        reason_bits.append(f"fee {due} ({fee.rule}), paid {paid}")
        if session.state == "orphan_entry":
            reason_bits.append(f"fee assumes a stay of {windows.orphan_after / timedelta(hours=1):g} h")
    match = RevenueMatch(
        match_id="pending",
        session_id=session.session_id,
        facility_id=session.facility_id,
        plate=session.plate,
        status=status,
        entry_at=entry,
        exit_at=exit,
        amount_due_cents=due,
        amount_paid_cents=paid,
        payment_ids=sorted(claimed + ([permit_ok.payment_id] if permit_ok else [])),
        evidence_pass_ids=session.pass_ids,
        match_confidence=min(1.0, max(0.0, confidence)),
        reason="; ".join(reason_bits)[:500],
        tariff_version=tariff.version,
        decided_at=now,
    )
    violation = None
    if session.state == "closed" and status in ("unpaid", "underpaid") and due > paid:
        if permit_bad:
            kind, why = "invalid_permit", permit_bad[0]
        elif any(p.kind == "pay_by_plate" and p.valid_until < exit for p in used):
            # Only pay-by-plate buys time up front; a pay station charges at the exit.
            until = max(p.valid_until for p in used if p.kind == "pay_by_plate")
            kind, why = "overstay", f"paid until {until.isoformat()}, left {exit.isoformat()}"
        else:
            kind, why = "unpaid", f"due {due}, paid {paid}"
        violation = Violation(
            violation_id=f"{session.session_id}#{kind}",
            kind=kind,
            session_id=session.session_id,
            facility_id=session.facility_id,
            plate=session.plate,
            detected_at=exit,
            amount_due_cents=due - paid,
            evidence_pass_ids=session.pass_ids,
            reason=f"{why}; {session.pair_reason}"[:500],
        )
    assessment = policy.assess(session, violation is not None, review)
    if review:
        lookup["review"] = {k: review[k] for k in ("decision", "reviewer", "plate_before", "plate", "decided_at")}
    if violation is not None:
        if assessment.verified_by:
            violation = violation.model_copy(update={"verified_by": assessment.verified_by})
        else:
            # Not cited on this read: it waits in review (or a reviewer dismissed it).
            lookup["citation"] = "dismissed in review" if assessment.dismissed else "waits in review"
            violation = None
    decision = Decision(match, violation, lookup, claimed, review_reasons=assessment.reasons)
    decision.match = match.model_copy(update={"match_id": f"{session.session_id}#{decision.digest[:10]}"})
    return decision


def orphan_payment(p: Payment, tariff: Tariff, now: datetime | None = None) -> RevenueMatch:
    """The match published for a payment that no session claimed in its window."""
    return RevenueMatch(
        match_id=f"payment/{p.payment_id}#unclaimed",
        session_id=f"payment/{p.payment_id}",
        facility_id=p.facility_id if p.facility_id != "*" else "all",
        plate=p.plate,
        status="payment_without_session",
        entry_at=None,
        exit_at=None,
        amount_due_cents=0,
        amount_paid_cents=p.amount_cents,
        payment_ids=[p.payment_id],
        evidence_pass_ids=[],
        match_confidence=0.0,
        reason=f"{p.kind} {p.payment_id} matched no session of {p.plate} in its window",
        tariff_version=tariff.version,
        decided_at=now or datetime.now(UTC),
    )


def split_match(stay: Session, review: dict[str, Any], tariff: Tariff, now: datetime | None = None) -> RevenueMatch:
    """The match that voids the stay `stay` a reviewer split (its exit was another vehicle's): the
    session is open again, and its next close is decided anew under the same id (latest wins)."""
    return RevenueMatch(
        match_id=f"{stay.session_id}#split-{review['decision_id'].rsplit('#', 1)[-1]}",
        session_id=stay.session_id,
        facility_id=stay.facility_id,
        plate=stay.plate,
        status="superseded",
        entry_at=stay.entry_at,
        exit_at=None,
        amount_due_cents=0,
        amount_paid_cents=0,
        payment_ids=[],
        evidence_pass_ids=[stay.entry_pass_id] if stay.entry_pass_id else [],
        match_confidence=0.0,
        reason=f"split in review by {review['reviewer']}: exit {stay.exit_pass_id} was {review['plate']}'s; "
        "the entry is open again"[:500],
        tariff_version=tariff.version,
        decided_at=now or datetime.now(UTC),
    )


def superseded_match(stay: Session, tariff: Tariff, now: datetime | None = None) -> RevenueMatch:
    """The match that voids the exit-only session `stay` replaces (`stay.supersedes`): its exit
    was re-paired with `stay`'s entry after a reviewer corrected its plate."""
    return RevenueMatch(
        match_id=f"{stay.supersedes}#superseded",
        session_id=stay.supersedes,
        facility_id=stay.facility_id,
        plate=stay.plate,
        status="superseded",
        entry_at=None,
        exit_at=stay.exit_at,
        amount_due_cents=0,
        amount_paid_cents=0,
        payment_ids=[],
        evidence_pass_ids=[stay.exit_pass_id] if stay.exit_pass_id else [],
        match_confidence=0.0,
        reason=f"re-paired with session {stay.session_id}: {stay.pair_reason}"[:500],
        tariff_version=tariff.version,
        decided_at=now or datetime.now(UTC),
    )


class Ledger:
    """The matcher's state for one plate key, as a plain dict (a faust table value)."""

    def __init__(self, raw: dict[str, Any] | None, partition: int) -> None:
        self.raw = raw or {"p": partition, "payments": {}, "sessions": {}, "reported": []}

    def payments(self) -> list[Payment]:
        return [Payment.model_validate(v) for v in self.raw["payments"].values()]

    def add_payment(self, p: Payment) -> bool:
        if p.payment_id in self.raw["payments"]:
            return False  # the same transaction again: harmless
        self.raw["payments"][p.payment_id] = p.model_dump(mode="json")
        return True

    def add_session(self, s: Session) -> bool:
        entry = self.raw["sessions"].get(s.session_id)
        if entry is not None and entry["session"] == s.to_dict():
            return False
        if entry is not None and Session.from_dict(entry["session"]).version > s.version:
            # A replay, after a crash, of an older version: a split stay's first message once
            # the re-closed stay (reopened + 1) is here. The newer one stands.
            return False
        done = list((entry or {}).get("done", []))
        if entry is None:
            gone = self._tombstone(s)
            if gone is not None and not self._returns(s, gone):
                return False
            if gone is not None:
                # Back, newer. The decision that took it away stays applied: a replay of it is
                # not applied to this version (it would split the re-closed stay again).
                del self.raw["moved"][s.session_id]
                done.append(gone[0])
        self.raw["sessions"][s.session_id] = {
            "session": s.to_dict(),
            "digest": entry["digest"] if entry else "",
            "claimed": entry["claimed"] if entry else [],
            "decided": False,
            "review": (entry or {}).get("review") or s.review,
            "violation": (entry or {}).get("violation"),
            **({"done": done} if done else {}),
        }
        review = self.raw["sessions"][s.session_id]["review"]
        if review and review["decision"] == "corrected":  # a replayed session keeps the person's plate
            self.raw["sessions"][s.session_id]["session"]["plate"] = review["plate"]
        return True

    def apply_review(self, decision: dict[str, Any]) -> bool:
        """Keep a reviewer's decision on one of this key's sessions (False: no such session here,
        or this very decision was applied already: a redelivery, or a replay after a crash of one
        that took the session away before it came back)."""
        entry = self.raw["sessions"].get(decision["session_id"])
        if entry is None or (entry.get("review") or {}).get("decision_id") == decision["decision_id"]:
            return False
        if decision["decision_id"] in entry.get("done", ()):
            return False
        entry["review"] = decision
        # Every decision applied, not only the last: a replay of an earlier one after a later
        # one must not be applied again either.
        entry.setdefault("done", []).append(decision["decision_id"])
        if decision["decision"] == "corrected":
            entry["session"]["plate"] = decision["plate"]
        return True

    def move_out(
        self, session_id: str, reason: str = "plate corrected in review"
    ) -> tuple[dict[str, Any], Violation | None]:
        """A corrected plate that belongs to another key, or a stay a reviewer split: the session
        leaves this ledger (the ledger it reaches next decides it again; the payments it claimed
        are free again) and a violation it had here is withdrawn, for `reason`."""
        entry = self.raw["sessions"].pop(session_id)
        withdrawn = None
        if entry.get("violation") and entry["violation"].get("state") == "issued":
            withdrawn = Violation.model_validate({**entry["violation"], "state": "withdrawn", "reason": reason})
        session = dict(entry["session"], review=entry.get("review"))
        return session, withdrawn

    def correct_out(self, decision: dict[str, Any]) -> tuple[dict[str, Any], Violation | None]:
        """A correction to a plate of another key: the session leaves (`move_out`), and a tombstone
        keeps a replay of its message out (`mark_moved`)."""
        sid = decision["session_id"]
        version = Session.from_dict(self.raw["sessions"][sid]["session"]).version
        session, withdrawn = self.move_out(sid)
        self.mark_moved(sid, decision["decision_id"], session["exit_ms"] or session["entry_ms"], version)
        return session, withdrawn

    def split_out(
        self, stay: Session, decision: dict[str, Any], reason: str
    ) -> tuple[dict[str, Any], Violation | None, dict[str, Any] | None]:
        """A split stay: it leaves (`move_out`) with the exit-only session its entry's real exit
        became here, if any (`take_exit_only_after`). Both leave tombstones: a replay of the stay's
        first message must not bring back the wrong pairing, nor one of the exit-only session's
        decide it again; the stay the pairing closes again comes back (reopened + 1)."""
        session, withdrawn = self.move_out(stay.session_id, reason=reason)
        self.mark_moved(stay.session_id, decision["decision_id"], stay.exit_ms or stay.entry_ms or 0, stay.version)
        rejoin = self.take_exit_only_after(stay.entry_ms) if stay.entry_ms is not None else None
        if rejoin is not None:
            version = Session.from_dict(rejoin).version
            self.mark_moved(rejoin["session_id"], decision["decision_id"], rejoin["exit_ms"], version)
        return session, withdrawn, rejoin

    def mark_moved(self, session_id: str, decision_id: str, at_ms: int, version: int) -> None:
        """Remember that a reviewer's decision took `session_id` (at `version`, Session.version) out
        of this ledger: a correction moved it to another key, or a split re-opened it, or a split
        paired the exit-only session that was its entry's real exit. After a crash the sessions
        topic is read again from the last committed offset, and the session's own message would
        otherwise put it back here: a second copy, decided again under the old plate or with the
        wrong exit (seen as a flaky CI run, where the replayed copy of a corrected session
        re-applied the decision and wrote the review row without its reasons, so the accuracy
        sample lost it)."""
        self.raw.setdefault("moved", {})[session_id] = [decision_id, at_ms, version]

    def _tombstone(self, s: Session) -> list | None:
        """[decision id, at ms, version] when a decision took `s`'s session away from here."""
        return self.raw.get("moved", {}).get(s.session_id)

    @staticmethod
    def _returns(s: Session, gone: list) -> bool:
        """Whether `s` is the session coming back newer, not a replay of its message (or an older
        decision's): a later decision brought it (the plate corrected back to this key), or it
        is a higher version (the split stay closed again by the pairing, `reopened` + 1)."""
        # Tombstones written before 2026-12-07's split guard have no version.
        if len(gone) > 2 and s.version > gone[2]:
            return True
        return bool(s.review) and s.review.get("decision_id") not in (None, gone[0])

    def take_exit_only_after(self, entry_ms: int) -> dict[str, Any] | None:
        """The earliest exit-only session of this key captured after `entry_ms` that no reviewer
        decided, taken out of the ledger: the real exit of a stay whose exit was another vehicle's
        (services.revenue.pairing.Pairing.split pairs them)."""
        found = sorted(
            (e["session"]["exit_ms"], sid)
            for sid, e in self.raw["sessions"].items()
            if e["session"]["state"] == "exit_without_entry"
            and e["session"]["exit_ms"] > entry_ms
            and not e.get("review")
        )
        if not found:
            return None
        return self.raw["sessions"].pop(found[0][1])["session"]

    @staticmethod
    def due_ms(session: dict[str, Any], windows: Windows) -> int:
        """Stream time at which a session's outcome is final: its payment window has closed."""
        end = (
            session["exit_ms"]
            if session["exit_ms"] is not None
            else session["entry_ms"] + windows.orphan_after / timedelta(milliseconds=1)
        )
        return int(end + windows.late / timedelta(milliseconds=1))

    def next_due_ms(self, windows: Windows) -> int | None:
        dues = [self.due_ms(e["session"], windows) for e in self.raw["sessions"].values() if not e["decided"]]
        return min(dues) if dues else None

    def due_sessions(self, watermark_ms: int, windows: Windows) -> list[str]:
        """Undecided sessions whose payment window closed, in entry order."""
        due = [
            (e["session"]["entry_ms"] or e["session"]["exit_ms"], sid)
            for sid, e in self.raw["sessions"].items()
            if not e["decided"] and self.due_ms(e["session"], windows) <= watermark_ms
        ]
        return [sid for _, sid in sorted(due)]

    def claimed_elsewhere(self, session_id: str) -> set[str]:
        return {pid for sid, e in self.raw["sessions"].items() if sid != session_id for pid in e["claimed"]}

    def decide(
        self, session_id: str, tariff: Tariff, windows: Windows, policy: ReviewPolicy | None = None
    ) -> Decision | None:
        """Decide a session again; None when the outcome is the one already published. A
        violation published before and not issued now is withdrawn (`Decision.withdrawn`)."""
        entry = self.raw["sessions"][session_id]
        d = decide(
            Session.from_dict(entry["session"]),
            self.payments(),
            self.claimed_elsewhere(session_id),
            tariff,
            windows,
            policy=policy,
            review=entry.get("review"),
        )
        if d.digest == entry["digest"]:
            return None
        before = entry.get("violation")
        if d.violation is not None:
            entry["violation"] = d.violation.model_dump(mode="json")
        elif before and before.get("state") == "issued":
            reason = (d.match.reason if not entry.get("review") else f"{entry['review']['decision']} in review")[:500]
            d.withdrawn = Violation.model_validate({**before, "state": "withdrawn", "reason": reason})
            entry["violation"] = d.withdrawn.model_dump(mode="json")
        entry["digest"], entry["claimed"], entry["decided"] = d.digest, d.claimed, True
        return d

    def sessions_touched_by(self, p: Payment, windows: Windows) -> list[str]:
        """Decided sessions whose outcome a newly arrived payment may change (a late permit), by entry time."""
        out = []
        for sid, e in self.raw["sessions"].items():
            if not e["decided"]:
                continue  # decided when its window closes, with every payment known by then
            s = Session.from_dict(e["session"])
            start, end = s.entry_at or s.exit_at, s.exit_at or (s.entry_at + windows.orphan_after)
            if p.kind == "permit" or start - windows.early <= p.paid_at <= end + windows.late:
                out.append((start, sid))
        return [sid for _, sid in sorted(out)]

    def unclaimed_payments(self, watermark: datetime, windows: Windows) -> list[Payment]:
        """Payments past their window that no session claimed and that were not reported yet."""
        claimed = {pid for e in self.raw["sessions"].values() for pid in e["claimed"]}
        out = []
        for p in self.payments():
            if (
                p.kind in PAID_KINDS
                and p.payment_id not in claimed
                and p.payment_id not in self.raw["reported"]
                and p.paid_at + windows.late + windows.orphan_after < watermark
            ):
                out.append(p)
        return out

    @staticmethod
    def needs_sweep(raw: dict[str, Any], watermark: datetime, windows: Windows) -> bool:
        """Cheap test on the stored dict: is there an unclaimed payment past its window, or
        anything old enough to prune? (Most plate keys have neither; copying them would
        rewrite every key's changelog at each sweep.)"""
        limit = watermark - LEDGER_KEEP
        claimed = {pid for e in raw["sessions"].values() for pid in e["claimed"]}
        for pid, v in raw["payments"].items():
            paid = datetime.fromisoformat(v["paid_at"].replace("Z", "+00:00"))
            if (
                v["kind"] in PAID_KINDS
                and pid not in claimed
                and pid not in raw["reported"]
                and paid + windows.late + windows.orphan_after < watermark
            ):
                return True
            if paid < limit and datetime.fromisoformat(v["valid_until"].replace("Z", "+00:00")) < limit:
                return True
        limit_ms = limit.timestamp() * 1000
        return any((e["session"]["exit_ms"] or e["session"]["entry_ms"]) < limit_ms for e in raw["sessions"].values())

    def prune(self, watermark: datetime) -> None:
        limit = watermark - LEDGER_KEEP
        for sid in [
            sid
            for sid, e in self.raw["sessions"].items()
            if ms_to_dt(e["session"]["exit_ms"] or e["session"]["entry_ms"]) < limit
        ]:
            del self.raw["sessions"][sid]
        # Tombstones go with the sessions they stood for. They do not make a ledger due for a
        # sweep (`needs_sweep`): one is a few bytes, and goes at the ledger's next sweep.
        moved = self.raw.get("moved", {})
        for sid in [sid for sid, gone in moved.items() if ms_to_dt(gone[1]) < limit]:
            del moved[sid]
        for pid in [
            pid
            for pid, v in self.raw["payments"].items()
            if datetime.fromisoformat(v["valid_until"].replace("Z", "+00:00")) < limit
            and datetime.fromisoformat(v["paid_at"].replace("Z", "+00:00")) < limit
        ]:
            del self.raw["payments"][pid]
            if pid in self.raw["reported"]:
                self.raw["reported"].remove(pid)
