"""The review desk: the queue a reviewer works through, and the decisions they publish.

A decision is validated against the queue (the task exists; a correction or a split names a plate;
only a stay with both passes can be split) and
published on alpr.review-decisions.v1, keyed by the session's plate key; the answer waits for
the broker's acknowledgement. The stream applies it (services.revenue.stream `reviews` agent ->
matcher), so a correction goes through the pipeline like any other input: replays and
redelivery stay idempotent (the decision id is deterministic, and a ledger applies one once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer

from alpr.contracts.models import ReviewDecision
from alpr.contracts.registry import encode
from alpr.kafka.config import producer_config
from alpr.plates import confusable_key, normalize
from alpr.store import Store

LIST_COLUMNS = (
    "review_id, session_id, facility_id, plate, plate_key, reasons, state, entry_pass_id, exit_pass_id, "
    "entry_confidence, exit_confidence, created_at, plate_after, reviewer, decided_at"
)


class DeskError(ValueError):
    """A decision that cannot be taken (the message says why); `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


# Open entries offered beside an exit that found none: enough to hold the right one when the read
# is far off, few enough for a person to compare.
CANDIDATES = 5


@dataclass
class ReviewDesk:
    store: Store
    producer: Producer | None
    topic: str
    timeout_s: float = 15.0

    @classmethod
    def connect(cls, store: Store, bootstrap: str, topic: str, timeout_s: float = 15.0) -> ReviewDesk:
        config = producer_config(bootstrap, "revenue-reviews", **{"message.timeout.ms": int(timeout_s * 1000)})
        return cls(store, Producer(config), topic, timeout_s)

    def tasks(self, state: str | None, facility_id: str | None, limit: int) -> list[dict[str, Any]]:
        where, params = [], {"limit": limit}
        if state:
            where.append("state = {state:String}")
            params["state"] = state
        if facility_id:
            where.append("facility_id = {facility:String}")
            params["facility"] = facility_id
        sql = (
            f"SELECT {LIST_COLUMNS} FROM {self.store.database}.reviews FINAL"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY created_at LIMIT {limit:UInt32}"
        )
        return self.store.query(sql, params)

    def task(self, review_id: str, with_crops: bool) -> dict[str, Any] | None:
        """One task with what a reviewer needs: the passes (confidence, read count, the plate crop)
        and the match's payment lookup (the candidates)."""
        db = self.store.database
        rows = self.store.query(
            f"SELECT {LIST_COLUMNS} FROM {db}.reviews FINAL WHERE review_id = {{id:String}}", {"id": review_id}
        )
        if not rows:
            return None
        task = rows[0]
        ids = [i for i in (task["entry_pass_id"], task["exit_pass_id"]) if i]
        crop = ", crop_jpeg_b64, context_jpeg_b64" if with_crops else ""
        task["passes"] = self.store.query(
            f"SELECT pass_id, camera_id, lane, direction, plate, confidence, first_seen, read_count{crop} "
            f"FROM {db}.passes FINAL WHERE pass_id IN {{ids:Array(String)}} ORDER BY first_seen",
            {"ids": ids},
        )
        match = self.store.query(
            f"SELECT status, amount_due_cents, amount_paid_cents, lookup FROM {db}.matches FINAL "
            "WHERE session_id = {id:String}",
            {"id": task["session_id"]},
        )
        task["match"] = match[0] if match else None
        exit_pass = next((p for p in task["passes"] if p["direction"] == "exit"), None)
        task["candidate_entries"] = (
            self._candidate_entries(task, exit_pass, with_crops) if exit_pass and not task["entry_pass_id"] else []
        )
        return task

    def _candidate_entries(self, task: dict[str, Any], exit_pass: dict[str, Any], with_crops: bool) -> list[dict]:
        """For an exit that found no entry: the vehicles still inside the facility that entered before
        it, closest plate first (edit distance to the exit's read), at most CANDIDATES. Correcting
        the exit to one of these plates pairs the exit with that entry (services.revenue.pairing.repair)."""
        from alpr.plates import edit_distance

        db = self.store.database
        open_ = self.store.query(
            f"SELECT session_id, plate, entry_at, entry_pass_id, entry_confidence FROM {db}.sessions FINAL "
            "WHERE facility_id = {f:String} AND state = 'open' AND entry_at <= {at:DateTime64(3, 'UTC')}",
            {"f": task["facility_id"], "at": exit_pass["first_seen"]},
        )
        read = task["plate"]
        ranked = sorted(open_, key=lambda r: (edit_distance(r["plate"], read), str(r["entry_at"])))[:CANDIDATES]
        for r in ranked:
            r["edit_distance"] = edit_distance(r["plate"], read)
        if with_crops and ranked:
            crops = {
                c["pass_id"]: c["crop_jpeg_b64"]
                for c in self.store.query(
                    f"SELECT pass_id, crop_jpeg_b64 FROM {db}.passes FINAL WHERE pass_id IN {{ids:Array(String)}}",
                    {"ids": [r["entry_pass_id"] for r in ranked]},
                )
            }
            for r in ranked:
                r["crop_jpeg_b64"] = crops.get(r["entry_pass_id"], "")
        return ranked

    def decide(self, review_id: str, decision: str, plate: str | None, reviewer: str, note: str) -> ReviewDecision:
        rows = self.store.query(
            "SELECT review_id, session_id, facility_id, plate, plate_key, entry_pass_id, exit_pass_id "
            f"FROM {self.store.database}.reviews FINAL WHERE review_id = {{id:String}}",
            {"id": review_id},
        )
        if not rows:
            raise DeskError(f"no review task {review_id}", 404)
        task = rows[0]
        after = task["plate"]
        if decision in ("corrected", "split"):
            after = normalize(plate or "")
            what = "a correction" if decision == "corrected" else "a split"
            if not after or len(after) > 10:
                raise DeskError(f"{what} needs the plate as read by the reviewer (1-10 letters and digits)")
            if after == task["plate"]:
                raise DeskError(f"{after} is the machine's own read: confirm it instead")
        elif plate:
            raise DeskError("only a correction or a split names a plate")
        if decision == "split":
            if not (task["entry_pass_id"] and task["exit_pass_id"]):
                raise DeskError("only a stay with an entry and an exit can be split; correct the plate instead")
            if confusable_key(after) == task["plate_key"]:
                # Sessions are paired by confusable key: the pairing cannot hold two such vehicles apart.
                raise DeskError(
                    f"{after} and {task['plate']} differ only by characters the pairing folds together "
                    "(8/B, 0/O, 1/I ...): correct the plate instead"
                )
        now = datetime.now(UTC)
        d = ReviewDecision(
            decision_id=f"{review_id}#{int(now.timestamp() * 1000)}",
            review_id=review_id,
            session_id=task["session_id"],
            facility_id=task["facility_id"],
            decision=decision,  # type: ignore[arg-type]  (validated by the route's Literal)
            plate_before=task["plate"],
            plate=after,
            plate_key=task["plate_key"],
            reviewer=reviewer,
            decided_at=now,
            note=note,
        )
        self._publish(d)
        return d

    def _publish(self, d: ReviewDecision) -> None:
        assert self.producer is not None
        failure: list[str] = []

        def delivered(err, msg) -> None:
            if err is not None:
                failure.append(err.str())

        self.producer.produce(self.topic, key=d.plate_key.encode(), value=encode(d), on_delivery=delivered)
        left = self.producer.flush(self.timeout_s)
        if failure or left:
            raise DeskError(f"the decision was not published: {failure[0] if failure else 'no acknowledgement'}", 503)
