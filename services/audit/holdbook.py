"""The governance service's book of holds: a governance-database record plus publication on alpr.holds.v1.

The record is written only after Kafka acknowledged the message, so the book never shows a
hold that the data-owning services will not receive.
"""

from __future__ import annotations

import json
import threading

from confluent_kafka import Producer

from alpr.contracts.models import Hold
from alpr.contracts.registry import Topic, encode
from alpr.kafka.config import producer_config
from alpr.kafka.consumer import DeliveryTracker
from services.audit.db import GovernanceDB


class HoldBook:
    def __init__(self, db: GovernanceDB, bootstrap: str, topic: str = Topic.HOLDS) -> None:
        self._db = db
        db.execute("CREATE TABLE IF NOT EXISTS holds (hold_id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        self._lock = threading.Lock()
        self._delivery = DeliveryTracker()
        self._producer = Producer(producer_config(bootstrap, "audit-holds", on_delivery=self._delivery))
        self.topic = topic

    def publish(self, hold: Hold) -> None:
        with self._lock:
            self._producer.produce(self.topic, key=hold.hold_id, value=encode(hold))
            self._delivery.check(self._producer, 10.0)
            self._db.execute(
                "INSERT INTO holds (hold_id, body) VALUES (?, ?) "
                "ON CONFLICT (hold_id) DO UPDATE SET body = excluded.body",
                (hold.hold_id, hold.model_dump_json()),
            )

    def get(self, hold_id: str) -> Hold | None:
        row = self._db.one("SELECT body FROM holds WHERE hold_id = ?", (hold_id,))
        return Hold.model_validate_json(row["body"]) if row else None

    def all(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self._db.execute("SELECT body FROM holds ORDER BY hold_id")]
