"""Watches the demo's topics and keeps the figures the summary reports.

A plain consumer with a fresh group, reading every output topic of the run from the start:
it sees exactly what an operations center, finance system or auditor subscribed to the
topics would see.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

from confluent_kafka import Consumer

from alpr.contracts.registry import Topic
from alpr.kafka.config import client_config

DEAD_LETTER_TOPICS = {t.value for t in Topic if t.is_dead_letters}


class Observer:
    TOPICS = (
        Topic.FRAMES,
        Topic.READS,
        Topic.PASSES,
        Topic.OCCUPANCY,
        Topic.REVENUE_MATCHES,
        Topic.VIOLATIONS,
        Topic.AUDIT,
        Topic.PAYMENTS,
    )
    DLQS = (Topic.FRAMES_DLQ, Topic.READS_DLQ, Topic.PASSES_DLQ, Topic.PAYMENTS_DLQ, Topic.AUDIT_DLQ, Topic.HOLDS_DLQ)

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.prefix = prefix
        self._consumer = Consumer(
            client_config(
                bootstrap,
                **{
                    "group.id": f"demo-observer-{uuid.uuid4().hex[:8]}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                    "log_level": 3,
                },
            )
        )
        self._consumer.subscribe([prefix + t for t in self.TOPICS + self.DLQS])
        self.dead_letters: Counter = Counter()
        self.lock = threading.Lock()
        self.frames: set[str] = set()
        self.read_frames: set[str] = set()
        self.reads: dict[str, dict] = {}
        self.passes: dict[str, dict] = {}
        self.occupancy: dict[str, dict] = {}
        self.matches: dict[str, dict] = {}
        self.violations: dict[str, dict] = {}
        self.payments: set[str] = set()
        self.audit = Counter()
        # The latest capture time among the passes, and when (wall time) it was seen: the demo's clock.
        self.last_pass: tuple[datetime, float] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-observer", daemon=True)

    def start(self) -> Observer:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for m in self._consumer.consume(num_messages=500, timeout=0.5):
                if m.error() is None:
                    self._take(m.topic()[len(self.prefix) :], m)

    def _take(self, topic: str, m) -> None:
        with self.lock:
            if topic in DEAD_LETTER_TOPICS:
                self.dead_letters[topic] += 1
                return
            if topic == Topic.FRAMES:
                headers = {k: v.decode() for k, v in (m.headers() or [])}
                if "frame_id" in headers:  # a poison frame without headers is the DLQ's business
                    self.frames.add(headers["frame_id"])
                return
            try:
                body = json.loads(m.value())
            except (ValueError, TypeError):
                return  # a poison message (alpr demo --poison): counted where it lands, in a DLQ
            if topic == Topic.READS:
                self.reads[body["read_id"]] = body
                self.read_frames.add(body["frame_id"])
            elif topic == Topic.PASSES:
                old = self.passes.get(body["pass_id"])
                if old is None or body["version"] >= old["version"]:
                    self.passes[body["pass_id"]] = body
                first_seen = datetime.fromisoformat(body["first_seen"].replace("Z", "+00:00"))
                if self.last_pass is None or first_seen > self.last_pass[0]:
                    self.last_pass = (first_seen, time.time())
            elif topic == Topic.OCCUPANCY:
                self.occupancy[body["facility_id"]] = body
            elif topic == Topic.REVENUE_MATCHES:
                self.matches[body["session_id"]] = body
            elif topic == Topic.VIOLATIONS:
                self.violations[body["violation_id"]] = body
            elif topic == Topic.PAYMENTS:
                self.payments.add(body["payment_id"])
            elif topic == Topic.AUDIT:
                self.audit[body["outcome"]] += 1

    def clock(self) -> datetime | None:
        """The demo's clock: the latest pass's capture time moved on by the wall time since it was
        seen (the facility's time had its cameras gone on seeing nothing); None before any pass."""
        with self.lock:
            if self.last_pass is None:
                return None
            first_seen, seen_at = self.last_pass
        return first_seen + timedelta(seconds=time.time() - seen_at)

    def all_frames_read(self) -> bool:
        with self.lock:
            return bool(self.frames) and self.frames <= self.read_frames

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()
