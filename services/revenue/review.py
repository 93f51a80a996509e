"""Review: which sessions a person looks at, and when a read may be cited (issue #16).

The best parking systems never cite a vehicle on an uncertain machine read. Here a violation
is issued only on a *verified* read:

* by confidence: the lowest calibrated confidence of the session's reads (entry and exit pass)
  is at or above `verified_confidence`, a threshold chosen on validation data for >= 99.5%
  precision (docs/architecture.md, "Citations only on verified reads");
* by a person: a reviewer confirmed the plate, or corrected it, or (a split) read the plate of
  the exit that belonged to another vehicle, for the stay that exit then closes.

Otherwise the case waits in review: the match is published (finance sees the stay as unpaid),
the violation is not, and no window expires it; the reviewer's decision re-decides it.

A session goes to review (`reasons`) when a violation would be issued on an unverified read,
when its exit found no entry, and for a deterministic sample of the others (`sample_rate`,
by the session id's hash, so a replay samples the same sessions): the sample is what
measures the recognizer's accuracy on live traffic.

Pure: no I/O. `ReviewPolicy.assess` is called by `match.decide`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from services.revenue.session import Session

LOW_CONFIDENCE = "violation on a read below the verified confidence"
NO_ENTRY = "exit found no entry"
SAMPLED = "accuracy sample"


@dataclass(frozen=True)
class ReviewPolicy:
    verified_confidence: float = 0.95
    sample_rate: float = 0.01

    def read_confidence(self, session: Session) -> float:
        """The weakest read the case rests on: both passes for a closed stay, else the one seen."""
        seen = [c for pid, c in ((session.entry_pass_id, session.entry_confidence),
                                 (session.exit_pass_id, session.exit_confidence)) if pid]  # fmt: skip
        return min(seen) if seen else 0.0

    def sampled(self, session_id: str) -> bool:
        h = int.from_bytes(hashlib.sha256(session_id.encode()).digest()[:4], "big")
        return h < self.sample_rate * 2**32

    def assess(self, session: Session, would_cite: bool, review: dict[str, Any] | None) -> Assessment:
        """Whether a violation may be issued (`verified_by`), and why the session goes to review."""
        reasons: list[str] = []
        if session.state == "exit_without_entry":
            reasons.append(NO_ENTRY)
        confidence = self.read_confidence(session)
        verified_by = ""
        # A split's decision travels with the exit it re-paired: the reviewer read that exit's plate.
        if review and review["decision"] in ("confirmed", "corrected", "split"):
            verified_by = f"review:{review['reviewer']}"
        elif confidence >= self.verified_confidence:
            verified_by = f"confidence:{confidence:.4f}"
        if would_cite and not verified_by and not review:
            reasons.append(LOW_CONFIDENCE)
        # Sampled whatever else is true of the session: the sample must not depend on the read
        # (a sample of the confident ones only would overstate the accuracy it measures).
        if self.sampled(session.session_id):
            reasons.append(SAMPLED)
        dismissed = bool(review and review["decision"] == "dismissed")
        return Assessment(verified_by="" if dismissed else verified_by, reasons=reasons, dismissed=dismissed)


@dataclass(frozen=True)
class Assessment:
    verified_by: str  # empty: no violation may be issued
    reasons: list[str]  # why a person should look; empty: no review task
    dismissed: bool = False  # a reviewer said the plate cannot be read: nothing is cited


# The decisions that say what plate a task's passes show (a dismissal says none can be read).
READ_DECISIONS = ("confirmed", "corrected", "split")


def reviewed_plates(task: dict[str, Any]) -> dict[str, str]:
    """What a decided task (a `revenue.reviews` row) says each of its passes shows, pass id ->
    plate: the machine's plate when confirmed, the reviewer's when corrected; for a split, the
    entry's plate stands and the exit shows the plate the reviewer typed (another vehicle)."""
    state, before, after = task["state"], task["plate"], task["plate_after"]
    if state not in READ_DECISIONS:
        return {}
    entry_plate = after if state == "corrected" else before
    exit_plate = before if state == "confirmed" else after
    return {
        pid: plate for pid, plate in ((task["entry_pass_id"], entry_plate), (task["exit_pass_id"], exit_plate)) if pid
    }
