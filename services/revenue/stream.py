"""The revenue stream application (faust): passes -> sessions -> matches and violations.

Topology, and why (co-partitioning): passes are keyed by facility_id, payments by plate. A
faust join needs both sides co-partitioned, and a plate parks in any facility, so:

    alpr.passes.v1 (by facility) ──► pairing ──► <app>-sessions-by-plate (by plate key) ─┐
    alpr.payments.v1 (by plate)  ──► rekey   ──► <app>-payments-by-plate (by plate key) ─┴► matcher
                                                         matcher ──► alpr.revenue-matches.v1, alpr.violations.v1

* `pairing` keeps one faust table value per facility (open sessions, recent pass versions,
  stream time) and emits finished sessions re-keyed by the plate's confusable key;
* `rekey` validates payments (bad ones to alpr.payments.dlq with the reason) and re-keys
  them by the same confusable key, so that "8ABC123" paid and "8A8C123" read meet;
* `matcher` consumes both internal topics (same key, same partition count, faust's own
  partitioner: co-partitioned) and keeps one `Ledger` per plate key;
* `idle_tick` (a timer): once the passes have stopped for the idle lag, clock ticks on the
  sessions topic move the matcher's clock on with the wall clock (`services.revenue.clock`).

Both sides are re-keyed rather than the payments kept in a global table: a global table is
consumed whole by every instance (memory grows with all payments, and each instance must
catch up before it may decide), while re-keying scales with the partitions. It costs
one extra hop through Kafka.

Crash safety: every batch makes its effects first (rows inserted, messages produced and
acknowledged) and only then updates the tables, waiting for the changelog's acknowledgement
(`alpr.kafka.state.save_state`); faust commits offsets after the batch. A
crash anywhere replays the batch against the state saved before it, which recomputes the
same decisions (deterministic ids), so rows are replaced and republished messages carry
the same ids. One table value per facility or plate key means a state update is one
changelog message, never half of one.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import faust

from alpr.contracts.models import Pass, Payment, ReviewDecision
from alpr.contracts.registry import Topic, decode, encode
from alpr.errors import ContractError
from alpr.holds import HoldKeeper
from alpr.kafka import faust_fixes
from alpr.kafka import security as kafka_security
from alpr.kafka.dlq import FaustDeadLetters
from alpr.kafka.security import faust_credentials
from alpr.kafka.state import faust_data_dir, save_state
from alpr.metrics import MESSAGES
from alpr.retry import until_done
from alpr.store import Store
from services.revenue.clock import IdleClock
from services.revenue.match import Decision, Ledger, Windows, orphan_payment, split_match, superseded_match
from services.revenue.metrics import IDLE_TICKS, STREAM_CLOCK
from services.revenue.pairing import Pairing, new_state
from services.revenue.payments import PaymentCheck, PaymentRefused
from services.revenue.review import ReviewPolicy
from services.revenue.session import Session, ms_to_dt
from services.revenue.settings import RevenueSettings
from services.revenue.tariff import Tariff
from services.revenue.writer import (
    Rows,
    match_row,
    pass_row,
    payment_row,
    review_row,
    session_row,
    violation_row,
)

log = logging.getLogger(__name__)
SERVICE = "revenue"
SWEEP_EVERY = timedelta(minutes=5)
IDLE_CHECK_S = 1.0
TICK_EVERY_MS = 60_000  # of stream time, between the ticks that traffic sends


@dataclass
class Counters:
    """What the service did, for /healthz, the benchmark and tests."""

    passes: int = 0
    payments: int = 0
    sessions: int = 0
    matches: int = 0
    violations: int = 0
    dead_lettered: int = 0
    batches: int = 0
    idle_ticks: int = 0
    last_batch_at: float = 0.0


class RevenueStream:
    """Builds the faust app and runs its three agents over one store."""

    def __init__(
        self,
        settings: RevenueSettings,
        store: Store,
        tariff: Tariff,
        facilities: frozenset[str],
        keeper: HoldKeeper | None,
        passes_partitions: int,
    ) -> None:
        self.settings = settings
        self.store = store
        self.tariff = tariff
        self.keeper = keeper
        self.check = PaymentCheck(facilities, timedelta(seconds=settings.max_clock_skew_s))
        self.pairing = Pairing(int(settings.orphan_after_h * 3_600_000), settings.recent_pass_ids)
        self.windows = Windows(
            timedelta(minutes=settings.payment_early_min),
            timedelta(minutes=settings.payment_late_min),
            timedelta(hours=settings.orphan_after_h),
        )
        self.policy = ReviewPolicy(settings.verified_confidence, settings.review_sample_rate)
        self.counters = Counters()
        self.failures: list[str] = []
        self.watermarks: dict[int, datetime] = {}
        self.swept: dict[int, datetime] = {}
        self.last_tick_ms = 0
        lag_ms = int(settings.idle_lag_s * 1000)
        self.idle = IdleClock(lag_ms, resolution_ms=min(60_000, max(1_000, lag_ms // 10)))
        self.pairing_busy = False
        self.ready = False
        # Plate keys with an undecided session, by partition, with the earliest due time.
        # Memory only: rebuilt from the table at the first batch of a partition after a start.
        self.pending: dict[int, dict[str, int]] = {}
        prefix = settings.topic_prefix
        self.prefix = prefix
        self.app_id = f"{prefix}{settings.faust_app_id}"
        self.passes_contract = Topic.PASSES.contract
        self.payments_contract = Topic.PAYMENTS.contract
        self.reviews_contract = Topic.REVIEW_DECISIONS.contract
        faust_fixes.install()  # a partition without a commit must not skip what recovery fetched
        app = faust.App(
            self.app_id,
            broker=f"kafka://{settings.kafka_bootstrap}",  # every bootstrap server (faust splits on ",")
            # TLS and the service's SCRAM user (None on the PLAINTEXT development broker): the same
            # process-wide security as every confluent-kafka client of the service.
            broker_credentials=faust_credentials(kafka_security.current()),
            store="memory://",
            web_enabled=False,
            datadir=str(faust_data_dir(settings.data_dir, self.app_id)),
            topic_replication_factor=1,
            topic_partitions=settings.rekey_partitions,
            topic_disable_leader=True,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            stream_wait_empty=False,
            # Tables (changelogs) are JSON; every topic below says raw and is decoded by hand.
            key_serializer="json",
            value_serializer="json",
            table_standby_replicas=0,
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=1.0,
            # A topic created just before the group's first assignment is assigned seconds later,
            # not after aiokafka's 5-minute metadata refresh (alpr.kafka.faust_fixes, fix 4).
            consumer_metadata_max_age_ms=faust_fixes.CONSUMER_METADATA_MAX_AGE_MS,
        )
        self.app = app
        self.dead_letters = FaustDeadLetters(app, SERVICE, self.prefix)
        self.continuity = faust_fixes.Continuity(app, SERVICE)
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        # Reviewers' corrections of exit-only sessions, and their splits of stays, go back to the
        # pairing, by facility (like the passes: same partitions, same murmur2 of the facility id),
        # to pair the exit (and a split stay's entry) again.
        self.corrections_by_facility = app.topic(
            f"{self.app_id}-corrections-by-facility", internal=True, partitions=passes_partitions, **raw
        )
        self.pairing_in = app.topic(Topic.PASSES.on(prefix), f"{self.app_id}-corrections-by-facility", **raw)
        self.payments_in = app.topic(Topic.PAYMENTS.on(prefix), **raw)
        self.reviews_in = app.topic(Topic.REVIEW_DECISIONS.on(prefix), **raw)
        self.sessions_by_plate = app.topic(
            f"{self.app_id}-sessions-by-plate", internal=True, partitions=settings.rekey_partitions, **raw
        )
        self.payments_by_plate = app.topic(
            f"{self.app_id}-payments-by-plate", internal=True, partitions=settings.rekey_partitions, **raw
        )
        self.matcher_in = app.topic(
            f"{self.app_id}-sessions-by-plate",
            f"{self.app_id}-payments-by-plate",
            internal=True,
            partitions=settings.rekey_partitions,
            **raw,
        )
        self.matches_out = app.topic(Topic.REVENUE_MATCHES.on(prefix), **raw)
        self.violations_out = app.topic(Topic.VIOLATIONS.on(prefix), **raw)
        self.facility_state = app.Table("facility-state", default=None, partitions=passes_partitions)
        self.ledger = app.Table("ledger", default=None, partitions=settings.rekey_partitions)
        batch, within = settings.batch_max, settings.batch_within_s
        app.agent(self.pairing_in, name=f"{self.app_id}.pairing")(self._agent(self.pair_batch, batch, within))
        app.agent(self.payments_in, name=f"{self.app_id}.rekey")(self._agent(self.rekey_batch, batch, within))
        app.agent(self.reviews_in, name=f"{self.app_id}.reviews")(self._agent(self.review_batch, batch, within))
        app.agent(self.matcher_in, name=f"{self.app_id}.matcher")(self._agent(self.match_batch, batch, within))
        app.timer(IDLE_CHECK_S, name=f"{self.app_id}.idle-clock")(self.idle_tick)

        @app.on_partitions_revoked.connect
        async def _revoked(app, revoked, **kwargs) -> None:  # noqa: ANN001
            self.ready = False
            self.idle.forget()

        @app.on_rebalance_complete.connect
        async def _recovered(app, **kwargs) -> None:  # noqa: ANN001
            try:
                self._restore_idle_clock()
            finally:
                self.ready = True  # without a restored clock, ticks start again from the next pass

    def _agent(self, handle, batch: int, within: float):
        async def agent(stream):
            async for events in stream.take_events(batch, within=within):
                self.continuity.watch(events)
                try:
                    await handle(events)
                except Exception as err:
                    # A bug, not a bad message (those go to the DLQ): faust would keep the worker
                    # running without this agent, so turn /healthz red for the operator.
                    self.failures.append(f"{handle.__name__}: {type(err).__name__}: {err}")
                    log.exception("revenue agent failed", extra={"agent": handle.__name__})
                    raise
                self.counters.batches += 1
                self.counters.last_batch_at = asyncio.get_running_loop().time()

        return agent

    def healthy(self) -> bool:
        """False once an agent died of an unexpected error."""
        return not self.failures

    def recovered(self) -> bool:
        """Partitions assigned and tables recovered: set when faust reports the rebalance
        complete, cleared when partitions are revoked (like occupancy's `ready`). /healthz says
        503 until then, so nothing (a demo's finance feed, a load balancer) treats the service
        as up while its first assignment and recovery run: records that arrive in that window
        meet faust's recovery races (alpr.kafka.faust_fixes). It did not end the CI runs that decided
        paid stays unpaid (payments reaching the matcher after the exits): the demo now waits for
        its finance feed (alpr_app.demo.cli `wait_payments_matched`); see docs/architecture.md."""
        return self.ready

    # -- effects, with retry -----------------------------------------------------------------
    async def _effect(self, what: str, fn) -> None:
        """Run an effect until it succeeds: a store or broker outage pauses the batch (and so
        the partitions) instead of dropping it; the agent must not crash (faust would leave
        the worker running without it)."""
        await until_done(fn, log, "revenue effect failed; retrying", {"effect": what})

    async def _send(self, items: list[tuple[Any, bytes, bytes]]) -> None:
        futures = [await topic.send(key=key, value=value) for topic, key, value in items]
        await asyncio.gather(*futures)

    async def _dead_letter(self, event, reason: str) -> None:
        message = event.message
        await self._effect("dlq", lambda: self.dead_letters.send(message, reason))
        MESSAGES.labels(SERVICE, message.topic, "dlq").inc()
        self.counters.dead_lettered += 1

    # -- pairing: passes by facility -> sessions by plate key --------------------------------
    async def pair_batch(self, events: list) -> None:
        self.pairing_busy = True
        try:
            await self._pair_batch(events)
        finally:
            self.pairing_busy = False
        # Idle from now on: a batch whose effects waited out an outage was not quiet time.
        done_ms = int(time.time() * 1000)
        for partition in {event.message.partition for event in events}:
            self.idle.saw(partition, None, done_ms)

    async def _pair_batch(self, events: list) -> None:
        rows = Rows()
        out: list[tuple[Any, bytes, bytes]] = []
        states: dict[str, tuple[Any, dict]] = {}
        arrived_ms = int(time.time() * 1000)
        corrections = self.corrections_by_facility.get_topic_name()
        for event in events:
            if event.message.topic == corrections:
                message = json.loads(event.message.value)
                body = message.get("correction") or message["split"]
                facility = body["session"]["facility_id"]
                if facility not in states:
                    current = self.facility_state.get(facility)
                    states[facility] = (event, copy.deepcopy(current) if current else new_state())
                state = states[facility][1]
                states[facility] = (event, state)
                args = (state, body["session"], body["plate"], body["plate_key"], body["review"])
                if "split" in message:
                    outcome = self.pairing.split(*args, rejoin=body.get("rejoin"))
                else:
                    outcome = self.pairing.repair(*args)
                for s in outcome.written:
                    rows.add("sessions", session_row(s, self.keeper))
                for s in outcome.decided:
                    out.append((self.sessions_by_plate, s.plate_key.encode(), json.dumps(s.to_dict()).encode()))
                continue
            try:
                p: Pass = decode(self.passes_contract, event.message.value)
            except ContractError as err:
                await self._dead_letter(event, str(err))
                continue
            self.counters.passes += 1
            MESSAGES.labels(SERVICE, event.message.topic, "ok").inc()
            if p.facility_id not in states:
                current = self.facility_state.get(p.facility_id)
                states[p.facility_id] = (event, copy.deepcopy(current) if current else new_state())
            first_event, state = states[p.facility_id]
            states[p.facility_id] = (event, state)
            rows.add("passes", pass_row(p, self.keeper))
            outcome = self.pairing.apply(state, p)
            # Where the idle clock of this facility's partition starts again after a restart.
            state["clock"] = {"p": event.message.partition, "arrived_ms": arrived_ms}
            self.idle.saw(event.message.partition, state["watermark_ms"], arrived_ms)
            for s in outcome.written:
                rows.add("sessions", session_row(s, self.keeper))
            for s in outcome.decided:
                out.append((self.sessions_by_plate, s.plate_key.encode(), json.dumps(s.to_dict()).encode()))
        self.counters.sessions += len(out)
        await self._effect("store", lambda: asyncio.to_thread(rows.write, self.store))
        await self._effect("sessions-by-plate", lambda: self._send(out))
        await self._tick(max((st["watermark_ms"] for _, st in states.values()), default=0))
        await save_state(
            self.facility_state,
            ((event.message.partition, facility, state) for facility, (event, state) in states.items()),
        )

    async def _tick(self, watermark_ms: int) -> None:
        """Tell every matcher partition how far the passes' stream time got: sessions are decided
        when their payment window closes, and an open session moves no session message."""
        if watermark_ms < self.last_tick_ms + TICK_EVERY_MS:
            return
        self.last_tick_ms = watermark_ms
        await self._publish_tick(watermark_ms, idle=False)

    async def _publish_tick(self, tick_ms: int, idle: bool) -> None:
        """A tick is a record on every partition of the matcher's input, like the sessions: the
        matcher's replays (a restart, a rebalance) read the same clock and redo the same decisions."""
        body = json.dumps({"tick_ms": tick_ms, "idle": idle}).encode()

        async def send() -> None:
            futures = [
                await self.sessions_by_plate.send(key=b"", value=body, partition=p)
                for p in range(self.settings.rekey_partitions)
            ]
            await asyncio.gather(*futures)

        await self._effect("tick", send)
        self.idle.published(tick_ms)
        STREAM_CLOCK.set(self.idle.published_ms / 1000)

    async def idle_tick(self) -> None:
        """Every IDLE_CHECK_S: when the passes partitions have been quiet for the idle lag, move the
        matcher's clock on with the wall clock (services/revenue/clock.py). Not while a batch of
        passes is being handled (its partition is busy, not idle) nor while partitions move."""
        if not self.ready or self.pairing_busy:
            return
        tick_ms = self.idle.tick(int(time.time() * 1000))
        if tick_ms is None:
            return
        await self._publish_tick(tick_ms, idle=True)
        self.counters.idle_ticks += 1
        IDLE_TICKS.inc()

    def _restore_idle_clock(self) -> None:
        """After a rebalance: each assigned passes partition's clock from its facilities' saved state
        (stream time, and when their latest pass arrived), so a restart on a quiet night goes on
        deciding instead of waiting for a vehicle. A state saved before the idle clock existed
        has no "clock" yet: its partition ticks again from its next pass."""
        topic = Topic.PASSES.on(self.prefix)
        assigned = {tp.partition for tp in self.app.consumer.assignment() if tp.topic == topic}
        for state in list(self.facility_state.data.values()):
            clock = (state or {}).get("clock")
            if clock and clock["p"] in assigned:
                self.idle.saw(clock["p"], state["watermark_ms"], clock["arrived_ms"])

    # -- rekey: payments by plate -> payments by plate key -----------------------------------
    async def rekey_batch(self, events: list) -> None:
        out: list[tuple[Any, bytes, bytes]] = []
        for event in events:
            try:
                p: Payment = self.check.check(decode(self.payments_contract, event.message.value))
            except (ContractError, PaymentRefused) as err:
                await self._dead_letter(event, str(err))
                continue
            self.counters.payments += 1
            MESSAGES.labels(SERVICE, event.message.topic, "ok").inc()
            out.append((self.payments_by_plate, _plate_key(p.plate).encode(), encode(p)))
        await self._effect("payments-by-plate", lambda: self._send(out))

    # -- reviews: reviewers' decisions -> the matcher, by plate key -------------------------
    async def review_batch(self, events: list) -> None:
        """Forward each decision to the matcher's partition of its plate key, on the sessions topic
        (like the ticks): its ledger re-decides the session (services.revenue.match.Ledger)."""
        out: list[tuple[Any, bytes, bytes]] = []
        for event in events:
            try:
                d: ReviewDecision = decode(self.reviews_contract, event.message.value)
            except ContractError as err:
                await self._dead_letter(event, str(err))
                continue
            MESSAGES.labels(SERVICE, event.message.topic, "ok").inc()
            body = {"review_decision": d.model_dump(mode="json")}  # not "review": a session has that field
            out.append((self.sessions_by_plate, d.plate_key.encode(), json.dumps(body).encode()))
        await self._effect("reviews-to-matcher", lambda: self._send(out))

    # -- matcher: sessions and payments by plate key -> matches, violations ------------------
    async def match_batch(self, events: list) -> None:
        rows = Rows()
        out: list[tuple[Any, bytes, bytes]] = []
        ledgers: dict[str, tuple[Any, Ledger]] = {}
        sessions_topic = self.sessions_by_plate.get_topic_name()

        def ledger_for(key: str, event) -> Ledger:
            if key not in ledgers:
                current = self.ledger.get(key)
                ledgers[key] = (event, Ledger(copy.deepcopy(current), event.message.partition))
            return ledgers[key][1]

        def publish(d: Decision, entry: dict[str, Any]) -> None:
            m = d.match
            rows.add("matches", match_row(m, d.lookup, entry["session"]["state"], self.keeper))
            out.append((self.matches_out, m.session_id.encode(), encode(m)))
            for v in (d.violation, d.withdrawn):
                if v is not None:
                    rows.add("violations", violation_row(v, self.keeper))
                    out.append((self.violations_out, m.session_id.encode(), encode(v)))
            # Kept for the task's row when a reviewer decides it; a decided task keeps the reasons
            # it was queued for (a confirmation re-decides the stay with no reason left).
            entry["reasons"] = d.review_reasons or (entry.get("reasons", []) if entry.get("review") else [])
            # A re-paired stay carries the decision on the exit-only session it replaces: that
            # session's task holds it; the stay has a task of its own only when it needs one.
            review = entry.get("review")
            own = review if review and review["session_id"] == m.session_id else None
            if d.review_reasons or own:
                session = Session.from_dict(entry["session"])
                rows.add("reviews", review_row(session, entry["reasons"], own, self.keeper))

        def decide(ledger: Ledger, sid: str) -> bool:
            d = ledger.decide(sid, self.tariff, self.windows, self.policy)
            if d:
                publish(d, ledger.raw["sessions"][sid])
            return d is not None

        touched_partitions: dict[int, Any] = {}
        for event in events:
            key = event.message.key.decode()
            partition = event.message.partition
            touched_partitions[partition] = event
            self._load_pending(partition)
            MESSAGES.labels(SERVICE, event.message.topic, "ok").inc()
            if event.message.topic == sessions_topic:
                body = json.loads(event.message.value)
                if "tick_ms" in body:
                    self._advance(partition, ms_to_dt(body["tick_ms"]))
                    continue
                if "review_decision" in body:
                    self._review(key, body["review_decision"], ledger_for(key, event), decide, out, rows)
                    continue
                s = Session.from_dict(body)
                self._advance(partition, ms_to_dt(s.watermark_ms))
                ledger = ledger_for(key, event)
                if ledger.add_session(s):
                    self.pending[partition][key] = ledger.next_due_ms(self.windows)
                    if s.supersedes:
                        m = superseded_match(s, self.tariff)
                        rows.add("matches", match_row(m, {"superseded_by": s.session_id}, "superseded", self.keeper))
                        out.append((self.matches_out, m.session_id.encode(), encode(m)))
            else:
                ledger = ledger_for(key, event)
                p = Payment.model_validate_json(event.message.value)
                if ledger.add_payment(p):
                    rows.add("payments", payment_row(p, self.keeper))
                    for sid in ledger.sessions_touched_by(p, self.windows):
                        decide(ledger, sid)
        for partition, event in touched_partitions.items():
            watermark = self.watermarks.get(partition)
            if watermark is None:
                continue
            wm_ms = int(watermark.timestamp() * 1000)
            pending = self.pending[partition]
            for key in [k for k, due in pending.items() if due is not None and due <= wm_ms]:
                ledger = ledger_for(key, event)
                for sid in ledger.due_sessions(wm_ms, self.windows):
                    if not decide(ledger, sid):
                        ledger.raw["sessions"][sid]["decided"] = True
                nxt = ledger.next_due_ms(self.windows)
                if nxt is None:
                    pending.pop(key, None)
                else:
                    pending[key] = nxt
            if self.swept.get(partition, watermark) > watermark - SWEEP_EVERY:
                continue
            self.swept[partition] = watermark
            for key, raw in list(self.ledger.items()):
                if (
                    raw
                    and raw.get("p") == partition
                    and (key in ledgers or Ledger.needs_sweep(raw, watermark, self.windows))
                ):
                    ledger = ledger_for(key, event)
                    for p in ledger.unclaimed_payments(watermark, self.windows):
                        ledger.raw["reported"].append(p.payment_id)
                        m = orphan_payment(p, self.tariff)
                        row = match_row(m, {"plate_key": key, "reason": "no session claimed it"}, "none", self.keeper)
                        row["entry_at"] = p.paid_at  # the day it belongs to in reconciliation
                        rows.add("matches", row)
                        out.append((self.matches_out, m.session_id.encode(), encode(m)))
                    ledger.prune(watermark)
        self.counters.matches += sum(1 for t, _, _ in out if t is self.matches_out)
        self.counters.violations += sum(1 for t, _, _ in out if t is self.violations_out)
        await self._effect("store", lambda: asyncio.to_thread(rows.write, self.store))
        await self._effect("matches", lambda: self._send(out))
        await save_state(
            self.ledger, ((event.message.partition, key, ledger.raw) for key, (event, ledger) in ledgers.items())
        )

    def _review(self, key: str, decision: dict[str, Any], ledger: Ledger, decide, out: list, rows: Rows) -> None:
        """A reviewer's decision on one of this key's sessions. A session already decided is decided
        again now (confirmed: its violation is issued; dismissed: withdrawn); one still in its
        payment window keeps the decision for when it closes. A corrected plate of another key
        moves the session to that key's ledger, through the sessions topic like any session."""
        if not ledger.apply_review(decision):
            log.info("review decision for no session of this key, or applied already",
                     extra={"review_id": decision["review_id"]})  # fmt: skip
            return
        sid = decision["session_id"]
        entry = ledger.raw["sessions"][sid]
        # The task's row says decided now, whether or not the decision changes the outcome (a
        # confirmed paid stay publishes nothing new).
        session = Session.from_dict(entry["session"])
        rows.add("reviews", review_row(session, entry.get("reasons", []), decision, self.keeper))
        if decision["decision"] == "split":
            self._split(key, session, decision, ledger, out, rows)
            return
        new_key = _plate_key(decision["plate"])
        if new_key != key:
            session, withdrawn = ledger.correct_out(decision)
            if withdrawn is not None:
                rows.add("violations", violation_row(withdrawn, self.keeper))
                out.append((self.violations_out, sid.encode(), encode(withdrawn)))
            if session["state"] == "exit_without_entry":
                # The exit may belong to an open entry of the corrected plate: the pairing, which
                # holds the open entries, pairs it again (Pairing.repair).
                session.pop("review", None)
                body = {"session": session, "plate": decision["plate"], "plate_key": new_key, "review": decision}
                facility = session["facility_id"].encode()
                out.append((self.corrections_by_facility, facility, json.dumps({"correction": body}).encode()))
                return
            session["plate_key"] = new_key
            out.append((self.sessions_by_plate, new_key.encode(), json.dumps(session).encode()))
            return
        if ledger.raw["sessions"][sid]["decided"]:
            decide(ledger, sid)

    def _split(self, key: str, stay: Session, decision: dict[str, Any], ledger: Ledger, out: list, rows: Rows) -> None:
        """A stay whose exit a reviewer found to be another vehicle's: its match is voided (and a
        violation withdrawn), it leaves this ledger (its payments are free again for the stay's
        next close) and the pairing, which holds the open entries, undoes it (Pairing.split), with
        the exit-only session that the entry's real exit may have become here."""
        why = f"split in review by {decision['reviewer']}: the exit was {decision['plate']}'s"
        session, withdrawn, rejoin = ledger.split_out(stay, decision, why)
        if withdrawn is not None:
            rows.add("violations", violation_row(withdrawn, self.keeper))
            out.append((self.violations_out, stay.session_id.encode(), encode(withdrawn)))
        m = split_match(stay, decision, self.tariff)
        rows.add("matches", match_row(m, {"split": decision["decision_id"]}, "open", self.keeper))
        out.append((self.matches_out, m.session_id.encode(), encode(m)))
        session.pop("review", None)
        body = {
            "session": session,
            "plate": decision["plate"],
            "plate_key": _plate_key(decision["plate"]),
            "review": decision,
            "rejoin": rejoin,
        }
        facility = stay.facility_id.encode()
        out.append((self.corrections_by_facility, facility, json.dumps({"split": body}).encode()))
        log.info("stay split in review", extra={"review_id": decision["review_id"]})

    def _load_pending(self, partition: int) -> None:
        if partition in self.pending:
            return
        self.pending[partition] = {}
        for key, raw in list(self.ledger.items()):
            if raw and raw.get("p") == partition:
                due = Ledger(raw, partition).next_due_ms(self.windows)
                if due is not None:
                    self.pending[partition][key] = due

    def _advance(self, partition: int, at: datetime) -> None:
        current = self.watermarks.get(partition)
        if current is None or at > current:
            self.watermarks[partition] = at
        self.swept.setdefault(partition, at)


def _plate_key(plate: str) -> str:
    from alpr.plates import confusable_key

    return confusable_key(plate)
