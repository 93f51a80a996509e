"""Two gaps in faust-streaming 0.15.3 + aiokafka that lose messages after a crash, closed here.

1. **A partition with no committed offset is not sought after table recovery.** After a
   rebalance faust recovers its tables, then seeks every stream partition to its committed
   offset (`Consumer.perform_seek` -> aiokafka `seek_to_committed`). aiokafka seeks only
   when the committed offset is > 0; for a partition that never had a commit, the position
   stays wherever the fetcher got while recovery ran, and faust discarded what it fetched
   then. Found by the revenue SIGKILL test: killed before its first commit (faust commits
   every 2.8 s), the restarted service skipped four passes and reported an exit without
   entry. `install()` makes a partition without a commit start again from the earliest
   offset (the services' `consumer_auto_offset_reset`); the state guards make the replay a
   no-op for what the state already holds.
2. **A stream can jump over offsets after a restart.** With records fetched during table
   recovery, faust 0.15.3 once handed the revenue pairing agent offsets 0-10 of a partition
   and then 15-22, taking the jump for a compaction gap. `Continuity` watches for it: our
   source topics are neither compacted nor transactional, so a jump is always a loss. It
   does not repair it: seeking back while faust still holds later events makes faust drop
   the re-read ones (its read offset is past them), which stalled the partition in a test.
   It logs the jump and counts it (`alpr_stream_offset_jumps_total`), an alert rule fires.
3. **Table changes can be committed ahead of their changelog**: see `alpr.kafka.state`.
"""

from __future__ import annotations

import logging
from typing import Any

from alpr.metrics import OFFSET_JUMPS

log = logging.getLogger(__name__)
_installed = False


def install() -> None:
    """Patch aiokafka's `seek_to_committed` (idempotent; every faust service calls it)."""
    global _installed
    if _installed:
        return
    from aiokafka import AIOKafkaConsumer

    original = AIOKafkaConsumer.seek_to_committed

    async def seek_to_committed(self, *partitions):
        committed = await original(self, *partitions)
        # Changelog partitions are positioned by faust's recovery itself; only stream
        # partitions without a commit (None, or 0, which aiokafka skips too) need the seek.
        uncommitted = [tp for tp, offset in committed.items()
                       if not (offset and offset > 0) and not tp.topic.endswith("-changelog")]
        if uncommitted:
            log.info("no committed offset: reading from the earliest offset",
                     extra={"partitions": [f"{tp.topic}[{tp.partition}]" for tp in uncommitted]})
            await self.seek_to_beginning(*uncommitted)
        return committed

    AIOKafkaConsumer.seek_to_committed = seek_to_committed
    _installed = True


class Continuity:
    """Per source partition, the next offset this process expects; see the module docstring.

    Reset whenever partitions are revoked: after a rebalance the stream starts again from
    the committed offset (earlier than where this process got), which is expected."""

    def __init__(self, app: Any, service: str) -> None:
        self.service = service
        self.next: dict[Any, int] = {}
        self.jumps = 0

        @app.on_partitions_revoked.connect
        async def _revoked(app, revoked, **kwargs) -> None:  # noqa: ANN001
            self.next.clear()

    def watch(self, events: list) -> None:
        """Note each partition's offsets in `events`; log and count a jump forward."""
        for event in events:
            tp, offset = event.message.tp, event.message.offset
            expected = self.next.get(tp)
            if expected is not None and offset > expected:
                self.jumps += 1
                OFFSET_JUMPS.labels(self.service, tp.topic).inc()
                log.error("stream skipped offsets: messages were not processed",
                          extra={"service": self.service, "topic": tp.topic, "partition": tp.partition,
                                 "expected_offset": expected, "offset": offset})
            if expected is None or offset >= expected:
                self.next[tp] = offset + 1
