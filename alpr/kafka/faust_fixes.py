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
2. **Table changes can be committed ahead of their changelog**: see `alpr.kafka.state`.
"""

from __future__ import annotations

import logging

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
