"""Session: one vehicle's stay in one facility, from its entry pass to its exit pass.

A session is what finance is paid for and what enforcement cites. Its id is deterministic,
'<facility>/<plate>/<entry first_seen epoch ms>', so a replayed or republished pass finds
the same session and nothing is counted twice. A session whose exit was never seen is
closed as an `orphan_entry`; an exit with no entry becomes `exit_without_entry` with the id
'<facility>/<plate>/exit-<exit first_seen ms>'. Such a session is `superseded` once a reviewer's
correction of its exit's plate paired the exit with an entry after all. A closed stay whose exit
a reviewer found to be another vehicle's (a `split` decision) is open again under the same id
(`reopened` counts how often, so that its rows outrank the closed one's).

Sessions travel between the two stages of the service (pairing by facility, matching by
plate key) on an internal topic as JSON, and are written to `revenue.sessions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

State = Literal["open", "closed", "orphan_entry", "exit_without_entry", "superseded"]


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def dt_to_ms(value: datetime) -> int:
    return int(round(value.timestamp() * 1000))


@dataclass
class Session:
    """A stay: the evidence ids (passes) and how sure the pairing is."""

    session_id: str
    facility_id: str
    plate: str
    plate_key: str
    state: State
    entry_pass_id: str = ""
    exit_pass_id: str = ""
    entry_ms: int | None = None
    exit_ms: int | None = None
    pair_confidence: float = 1.0
    pair_reason: str = ""
    patrol_pass_ids: list[str] = field(default_factory=list)
    entry_confidence: float = 0.0
    exit_confidence: float = 0.0
    # Stream time of the facility when the session was emitted: the matcher's clock.
    watermark_ms: int = 0
    # A reviewer's decision carried along when a corrected plate moves the session to another
    # plate key's ledger (services.revenue.match.Ledger.move_out); None otherwise.
    review: dict[str, Any] | None = None
    # The exit-only session this one replaces: a reviewer corrected its exit's plate and the exit
    # then paired with this session's entry (services.revenue.pairing.Pairing.repair); "" otherwise.
    supersedes: str = ""
    # How many times a reviewer's split re-opened this session (services.revenue.pairing.Pairing.split).
    reopened: int = 0

    @property
    def entry_at(self) -> datetime | None:
        return ms_to_dt(self.entry_ms) if self.entry_ms is not None else None

    @property
    def exit_at(self) -> datetime | None:
        return ms_to_dt(self.exit_ms) if self.exit_ms is not None else None

    @property
    def pass_ids(self) -> list[str]:
        """Every pass that is evidence of this stay, entry first."""
        ids = [self.entry_pass_id, *self.patrol_pass_ids, self.exit_pass_id]
        return [i for i in ids if i]

    @property
    def version(self) -> int:
        """Orders the rows of one session in ReplacingMergeTree: open < closed / orphan, and any
        row of a re-opened session above every row from before it was re-opened."""
        states = {"open": 1, "closed": 2, "orphan_entry": 2, "exit_without_entry": 2, "superseded": 3}
        return self.reopened * 10_000 + states[self.state] * 1000 + len(self.patrol_pass_ids)

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its recursive deep copy was a third of the pairing's CPU.
        data = {name: getattr(self, name) for name in _FIELDS}
        data["patrol_pass_ids"] = list(self.patrol_pass_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        return cls(**data)


_FIELDS = tuple(f.name for f in fields(Session))


def session_id(facility_id: str, plate: str, entry_ms: int) -> str:
    return f"{facility_id}/{plate}/{entry_ms}"
