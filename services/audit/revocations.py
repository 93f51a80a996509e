"""The governance service's book of revocations: published on alpr.revocations.v1, acknowledged
before anyone is told the token is dead, and tombstoned once no token it refuses can be valid.

A logout revokes its token (`token:<jti>`, until the token's expiry); disabling a user revokes
every token of the user issued before now (`user:<name>`, until now plus the longest token
lifetime). The governance database keeps each published record's key and expiry, so that the
sweeper knows which keys to tombstone: compaction then drops record and tombstone, and the
topic holds only what is still in force.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import UTC, datetime

from confluent_kafka import Producer

from alpr.auth import MAX_TOKEN_TTL_S, Principal
from alpr.contracts.models import Revocation
from alpr.contracts.registry import encode
from alpr.kafka.config import producer_config
from alpr.kafka.consumer import DeliveryError, DeliveryTracker
from alpr.revocations import TOPIC, RevocationSet
from services.audit.db import GovernanceDB

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS revocations (
    revocation_id   TEXT PRIMARY KEY,
    expires_at      BIGINT NOT NULL,
    body            TEXT NOT NULL
)
"""


class RevocationUnpublished(Exception):
    """Kafka did not acknowledge the revocation: the tokens are still accepted elsewhere."""


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def token_revocation(principal: Principal, reason: str, by: str, now: float | None = None) -> Revocation:
    """Revoke one token (a logout), until it expires."""
    now = time.time() if now is None else now
    return Revocation(
        revocation_id=f"token:{principal.token_id}",
        kind="token",
        user=principal.user,
        token_id=principal.token_id,
        reason=reason,
        by=by,
        at=_utc(now),
        expires_at=_utc(principal.expires_at),
    )


def user_revocation(user: str, reason: str, by: str, now: float | None = None) -> Revocation:
    """Revoke every token of `user` issued until now. A token's `iat` is in whole seconds, so
    the cut is the next whole second: a token issued earlier in the same second is refused too
    (and so is one issued after it within that second: the user logs in again)."""
    now = time.time() if now is None else now
    issued_before = math.floor(now) + 1
    return Revocation(
        revocation_id=f"user:{user}",
        kind="user",
        user=user,
        issued_before=_utc(issued_before),
        reason=reason,
        by=by,
        at=_utc(now),
        expires_at=_utc(issued_before + MAX_TOKEN_TTL_S),
    )


class RevocationBook:
    """Publishes revocations, synchronously acknowledged, and tombstones them after expiry.

    `applied`: the governance service's own set, which takes each revocation as soon as Kafka
    has it (the service's next request must already refuse the token)."""

    def __init__(
        self,
        db: GovernanceDB,
        bootstrap: str,
        topic: str = TOPIC,
        applied: RevocationSet | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._db = db
        db.script(SCHEMA)
        self.topic = topic
        self.applied = applied
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._delivery = DeliveryTracker()
        self._producer = Producer(
            producer_config(
                bootstrap,
                "audit-revocations",
                on_delivery=self._delivery,
                **{"linger.ms": 0, "message.timeout.ms": int(timeout_s * 1000)},
            )
        )

    def publish(self, revocation: Revocation) -> None:
        """Return only once Kafka acknowledged it; raise RevocationUnpublished otherwise.

        The database row comes first: if Kafka then fails, the sweeper will tombstone a key that
        was perhaps never written, which is harmless; the other order could leave a record that
        nobody ever tombstones."""
        with self._lock:
            self._db.execute(
                "INSERT INTO revocations (revocation_id, expires_at, body) VALUES (?, ?, ?) ON CONFLICT (revocation_id) "
                "DO UPDATE SET expires_at = excluded.expires_at, body = excluded.body",
                (revocation.revocation_id, int(revocation.expires_at.timestamp()), revocation.model_dump_json()),
            )
            self._send(revocation.revocation_id, encode(revocation))
        if self.applied is not None:
            self.applied.apply(revocation.revocation_id, revocation)

    def _send(self, key: str, value: bytes | None) -> None:
        try:
            self._producer.produce(self.topic, key=key, value=value)
            self._delivery.check(self._producer, self.timeout_s)
        except (BufferError, DeliveryError) as err:
            raise RevocationUnpublished(str(err)) from None

    def in_force(self) -> list[Revocation]:
        return [
            Revocation.model_validate_json(r["body"])
            for r in self._db.execute("SELECT body FROM revocations ORDER BY revocation_id")
        ]

    def sweep(self, now: float | None = None) -> int:
        """Tombstone every revocation past its expiry; returns how many."""
        now = time.time() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT revocation_id, expires_at FROM revocations WHERE expires_at <= ?", (int(now),)
            )
            for row in rows:
                self._send(row["revocation_id"], None)
                # Only this expiry: a newer record of the key (a user disabled again) stays.
                self._db.execute(
                    "DELETE FROM revocations WHERE revocation_id = ? AND expires_at = ?",
                    (row["revocation_id"], row["expires_at"]),
                )
        return len(rows)

    def sweeper(self, every_s: float):
        """A worker for `Workers.start`: sweep every `every_s` seconds until stopped."""

        def run(stop: threading.Event) -> None:
            while not stop.wait(every_s):
                try:
                    swept = self.sweep()
                except RevocationUnpublished as err:  # Kafka away: the next round tries again
                    log.warning("revocation tombstones not published", extra={"error": str(err)})
                    continue
                if swept:
                    log.info("revocations expired and tombstoned", extra={"count": swept})

        return run

    def close(self) -> None:
        self._producer.flush(self.timeout_s)
