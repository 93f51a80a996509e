"""The writer of a batch's effects: occupancy events, passes, ClickHouse rows, dead letters.

Everything here is idempotent under a repeat (deterministic ids: event_id, pass_id with a
growing version), so the stream can retry a failed batch, or redo one after a crash, without
changing the outcome. The stream stores the facility state only after `write` returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from alpr.contracts.models import OccupancyEvent
from alpr.contracts.registry import encode
from alpr.holds import HoldKeeper
from alpr.kafka.dlq import FaustDeadLetters
from alpr.metrics import E2E_LATENCY
from alpr.retry import until_done
from alpr.store import Store
from services.occupancy.board import Board
from services.occupancy.metrics import OCCUPIED
from services.occupancy.occupancy import Effects
from services.occupancy.passes import pass_message, pass_row

log = logging.getLogger(__name__)
SERVICE = "occupancy"


class EffectsWriter:
    """Makes a batch's effects durable; `write` retries (with backoff) until all are acknowledged."""

    def __init__(
        self,
        store: Store,
        keeper: HoldKeeper | None,
        board: Board,
        events_topic,
        passes_topic,
        dead_letters: FaustDeadLetters,
    ) -> None:
        self.store = store
        self.keeper = keeper
        self.board = board
        self.events_topic = events_topic
        self.passes_topic = passes_topic
        self.dead_letters = dead_letters

    async def write(self, effects: Effects, dead: list[tuple[Any, str]]) -> None:
        """Make the batch's effects durable: rows, events, dead letters (each a faust message
        and its reason). Retries until done."""
        sent = {"events": False, "passes": False, "dead": 0}  # what an earlier try already made durable

        async def once() -> None:
            # Events first: they are what the operations center waits for. Their order does
            # not matter for correctness: all effects precede the state the stream stores next.
            if effects.events and not sent["events"]:
                await self.send_events(effects.events)
                self.publish_to_board(effects.events)
                sent["events"] = True
            if effects.passes and not sent["passes"]:
                await self.send_passes(effects)
                sent["passes"] = True
            # Held flags are decided at each try: the holds consumer (another thread) may
            # place a hold meanwhile.
            rows = [
                pass_row(p, self.is_held(p.plate, datetime.fromtimestamp(p.first_seen_ms / 1000, UTC)))
                for p in effects.passes.values()
            ]
            history = [dict(h, held=1 if self.is_held(None, h["as_of"]) else 0) for h in effects.history]
            if rows or history:
                await asyncio.to_thread(self._insert, rows, history)
            while sent["dead"] < len(dead):
                await self.dead_letters.send(*dead[sent["dead"]])
                sent["dead"] += 1

        # Store or broker away: the batch is held (bounded memory) and tried again.
        await until_done(once, log, "batch write failed; retrying")

    def _insert(self, rows: list[dict], history: list[dict]) -> None:
        if rows:
            self.store.insert("passes", rows)
        if history:
            self.store.insert("occupancy_history", history)

    async def send_events(self, events: list[OccupancyEvent]) -> None:
        futures = [await self.events_topic.send(key=e.facility_id.encode(), value=encode(e)) for e in events]
        await asyncio.gather(*futures)
        now = time.time()
        for e in events:
            OCCUPIED.labels(e.facility_id).set(e.occupied)
            if e.origin_captured_at is not None:
                E2E_LATENCY.labels(SERVICE, "occupancy_event").observe(max(0.0, now - e.origin_captured_at.timestamp()))

    async def send_passes(self, effects: Effects) -> None:
        """Each confirmed pass the batch touched, at its latest version, for revenue (alpr.passes.v1)."""
        futures = [
            await self.passes_topic.send(key=p.facility_id.encode(), value=encode(pass_message(p)))
            for p in effects.passes.values()
        ]
        await asyncio.gather(*futures)

    def publish_to_board(self, events: list[OccupancyEvent]) -> None:
        for e in events:
            self.board.update(e.model_dump(mode="json"))

    def is_held(self, plate: str | None, at: datetime) -> bool:
        """Rows inside an active legal hold's scope are written held (policy section 10)."""
        return self.keeper is not None and self.keeper.is_held(plate, at)
