"""Legal holds applied to a service's own rows (policy section 10).

"Data shall not be stored beyond one year except by subpoena, court order or during an
ongoing investigation." The governance service publishes holds on alpr.holds.v1; every
data-owning service runs a `HoldKeeper` over its tables: placing a hold sets `held = 1` on
the rows in its scope (plates and/or time range), so the 365-day TTL skips them; releasing
it sets `held` back to 0 unless another active hold still covers the row, so the next TTL
merge purges what is past a year. Writers ask `is_held` so that rows arriving later inside
an open hold's scope are written held.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from alpr.contracts.models import Hold
from alpr.store import Store
from alpr.store.cluster import stored_table


@dataclass(frozen=True)
class HeldTable:
    """A table of ALPR data: where its plate and its event time are. plate_column None: the
    table holds no plate (aggregates), so only time-range holds without plates reach it."""

    table: str
    plate_column: str | None
    time_column: str


def _scope(hold: Hold, t: HeldTable, n: int, params: dict) -> str | None:
    parts = []
    if hold.plates:
        if t.plate_column is None:
            return None
        params[f"plates{n}"] = list(hold.plates)
        parts.append(f"has({{plates{n}:Array(String)}}, {t.plate_column})")
    if hold.time_from:
        params[f"from{n}"] = hold.time_from
        parts.append(f"{t.time_column} >= {{from{n}:DateTime64(3, 'UTC')}}")
    if hold.time_to:
        params[f"to{n}"] = hold.time_to
        parts.append(f"{t.time_column} < {{to{n}:DateTime64(3, 'UTC')}}")
    return " AND ".join(parts) if parts else None


class HoldKeeper:
    def __init__(self, store: Store, tables: list[HeldTable]) -> None:
        self.store = store
        self.tables = tables
        self._lock = threading.Lock()
        self._active = self._load()

    def _load(self) -> dict[str, Hold]:
        rows = self.store.query(
            f"SELECT hold_id, action, basis, case_ref, plates, time_from, time_to, by, at "
            f"FROM {self.store.database}.holds FINAL"
        )
        active = {}
        for r in rows:
            if r["action"] == "place":
                active[r["hold_id"]] = Hold.model_validate(
                    {
                        **r,
                        "at": r["at"].replace(" ", "T") + "Z",
                        "time_from": r["time_from"].replace(" ", "T") + "Z" if r["time_from"] else None,
                        "time_to": r["time_to"].replace(" ", "T") + "Z" if r["time_to"] else None,
                    }
                )
        return active

    @property
    def active(self) -> dict[str, Hold]:
        with self._lock:
            return dict(self._active)

    def apply(self, hold: Hold) -> None:
        """Record the hold and bring every table's `held` flags in line. Idempotent."""
        with self._lock:
            self.store.insert(
                "holds",
                [
                    {
                        "hold_id": hold.hold_id,
                        "action": hold.action,
                        "basis": hold.basis,
                        "case_ref": hold.case_ref,
                        "plates": list(hold.plates),
                        "time_from": hold.time_from,
                        "time_to": hold.time_to,
                        "by": hold.by,
                        "at": hold.at,
                    }
                ],
            )
            if hold.action == "place":
                self._active[hold.hold_id] = hold
            else:
                self._active.pop(hold.hold_id, None)
            for t in self.tables:
                params: dict = {}
                scope = _scope(hold, t, 0, params)
                if scope is None:
                    continue
                if hold.action == "place":
                    value = "1"
                else:
                    others = [c for i, h in enumerate(self._active.values(), start=1) if (c := _scope(h, t, i, params))]
                    value = f"if(({') OR ('.join(others)}), 1, 0)" if others else "0"
                # mutations_sync: the hold is in force when apply() returns (the consumer commits after);
                # on a cluster (2) on every replica, and the rows live in the local tables.
                cluster = getattr(self.store, "cluster", None)
                self.store.command(
                    f"ALTER TABLE {stored_table(self.store.database, t.table, cluster)} UPDATE held = {value} "
                    f"WHERE {scope} SETTINGS mutations_sync = {2 if cluster else 1}",
                    params,
                )

    def is_held(self, plate: str | None, at: datetime) -> bool:
        """Should a row written now (plate, event time) be held by an active hold?"""
        for h in list(self._active.values()):  # a snapshot: apply() may change the dict meanwhile
            if h.plates and (plate is None or plate not in h.plates):
                continue
            if h.time_from and at < h.time_from:
                continue
            if h.time_to and at >= h.time_to:
                continue
            if h.plates or h.time_from or h.time_to:
                return True
        return False


def holds_consumer(
    service: str, bootstrap: str, keeper: HoldKeeper, topic_prefix: str = "", group_id: str | None = None
):
    """The consumer every data-owning service runs next to its main one: alpr.holds.v1 -> keeper.

    Its own consumer group per service, so each service applies every hold to its own rows.
    """
    from alpr.contracts.registry import Topic, decode
    from alpr.kafka.consumer import BatchConsumer

    holds_contract = Topic.HOLDS.contract

    def write(holds: list[Hold], producer) -> None:
        for h in holds:  # in order: a place followed by its release must end released
            keeper.apply(h)

    return BatchConsumer(
        service=service,
        topics=[Topic.HOLDS.on(topic_prefix)],
        group_id=group_id or f"{topic_prefix}alpr-{service}-holds",
        bootstrap=bootstrap,
        process=lambda m: decode(holds_contract, m.value()),
        write=write,
        max_batch=100,
        max_wait_s=0.5,
        topic_prefix=topic_prefix,
    )
