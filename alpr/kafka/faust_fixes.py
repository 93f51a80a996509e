"""Where faust-streaming 0.15.3 (+ aiokafka 0.14.0) loses messages after a crash, closed here.

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
2. **Records fetched before the seek at the end of recovery.** (The loss the offset-jump
   watch used to report: a restarted worker with table state saw offsets 0-10 of a
   partition and then 15-22, about one SIGKILL test run in ten under CPU load; the same
   race as faust-streaming/faust#596, open and unfixed in every release.) When recovery
   ends, faust makes the stream partitions active *before* it seeks them to their committed
   offsets, with the fetcher already running (faust/tables/recovery.py:448-453, :649, :655).
   While the seek waits on the broker, the drain loop keeps handing the agents records
   fetched at the old position. Then (a) `app.flow_control.resume()` (recovery.py:659)
   empties every agent's channel queue even though the flow is already active
   (mode/utils/queues.py:97-108, faust/channels.py:143-146): the records an agent had not
   taken yet, because it was still waiting inside a batch, vanish; and (b) the record in
   flight when the seek finished, and the rest of the stale batch, write their offsets over
   the sought one (faust/transport/consumer.py:1223, the batch only stops on a stopped flow
   :746-757), so when the partition is read again from the committed offset faust drops
   everything below as already read (:1208-1230). Those records were never processed; the
   hole in the acked offsets then stops commits for the partition (:1139-1141), or, when the
   seek landed between two records, a recorded gap lets commits pass the hole (:1212-1215)
   and the loss survives the next restart. `install()` puts a barrier in front of the seek
   (`_install_seek_barrier`): faust's `perform_seek` first stops the flow and waits until the
   drain loop has let go of the batch it was delivering, so nothing fetched at the old
   position reaches an agent afterwards and nothing writes over the sought offsets; the
   partition is then read again from its committed offset, including what the resume
   cleared (at least once; the state guards make the repeat a no-op). Proved against faust's
   own consumer code in tests/test_faust_fixes.py.
   `Continuity` stays as the alarm: our source topics are neither compacted nor
   transactional, so a jump is always a loss, and now a bug. It logs and counts it
   (`alpr_stream_offset_jumps_total`, alert StreamSkippedOffsets); it does not seek back
   (seeking while faust still holds later events makes faust drop the re-read ones).
3. **Table changes can be committed ahead of their changelog**: see `alpr.kafka.state`.
4. **A topic missing from the first assignment stays unassigned for five minutes.** A worker
   creates its changelogs and re-key topics, then joins its group; when the broker's metadata
   does not list a just-created topic yet, the leader's assignor skips it ("Ignoring missing
   topic") and aiokafka rebalances only when a metadata refresh shows the topic, by default
   every 5 minutes (`metadata_max_age_ms`). Meanwhile the table of that changelog has no
   partitions: a clean-clone CI run (2026-12-04) saw revenue's matcher take 18 of 25 payments
   in 120 s and stop, its ledger changelog unassigned. The services refresh the consumer's
   metadata every `CONSUMER_METADATA_MAX_AGE_MS` instead (one small request), so a late topic
   is assigned seconds later; `tests/test_faust_fixes.py` proves it against the real broker
   with a topic created after the worker joined.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from alpr.metrics import OFFSET_JUMPS

log = logging.getLogger(__name__)
_installed = False
# The line numbers cited here are this version's; a new one must be read again before the
# patches are trusted with it (install() refuses to run under any other).
FAUST_VERSION = "0.15.3"
# How old the consumer's cluster metadata may get (fix 4 above): the longest a topic created
# after the group's assignment waits for its partitions.
CONSUMER_METADATA_MAX_AGE_MS = 5_000


def install() -> None:
    """Patch aiokafka's `seek_to_committed` and faust's seek (idempotent; every faust service
    calls it before it creates its app)."""
    global _installed
    if _installed:
        return
    import faust

    if faust.__version__ != FAUST_VERSION:
        raise RuntimeError(
            f"alpr.kafka.faust_fixes patches faust-streaming {FAUST_VERSION}, not {faust.__version__}: "
            "read the faust source again (see the module docstring) before changing the pin"
        )
    _install_seek_to_beginning()
    _install_seek_barrier()
    _installed = True


def _install_seek_to_beginning() -> None:
    """Item 1 of the module docstring."""
    from aiokafka import AIOKafkaConsumer

    original = AIOKafkaConsumer.seek_to_committed

    async def seek_to_committed(self, *partitions):
        committed = await original(self, *partitions)
        # Changelog partitions are positioned by faust's recovery itself; only stream
        # partitions without a commit (None, or 0, which aiokafka skips too) need the seek.
        uncommitted = [
            tp
            for tp, offset in committed.items()
            if not (offset and offset > 0) and not tp.topic.endswith("-changelog")
        ]
        if uncommitted:
            log.info(
                "no committed offset: reading from the earliest offset",
                extra={"partitions": [f"{tp.topic}[{tp.partition}]" for tp in uncommitted]},
            )
            await self.seek_to_beginning(*uncommitted)
        return committed

    # Patching the library's methods is what this module is for; mypy is told so per line.
    seek_to_committed.__wrapped__ = original  # type: ignore[attr-defined]
    AIOKafkaConsumer.seek_to_committed = seek_to_committed


def _install_seek_barrier() -> None:
    """Item 2 of the module docstring: `Consumer.perform_seek` stops the flow, waits until the
    drain loop has let go of the batch it was delivering, and only then seeks.

    The race is faust-streaming/faust#596 (queues cleared at the end of recovery, a hole in
    the acked offsets, commits stalled); no release fixes it. The aiokafka driver overrides
    neither method (faust/transport/drivers/aiokafka.py), so patching the base class covers it.
    Every caller resumes the flow after the seek: recovery.py:660 and :329 (`resume_flow`), and
    getmany's own seek (consumer.py:767-774) runs in a flow already stopped by a rebalance,
    whose recovery resumes it. (If the seek times out, faust's recovery raises ServiceStopped
    and ends its loop, recovery.py:612-617 and :561-565, with or without this patch; the flow
    then stays stopped: the worker stops consuming, visible as lag, instead of consuming from a
    position nobody sought.)"""
    from faust.transport.consumer import Consumer

    perform_seek = Consumer.perform_seek
    wait_next_records = Consumer._wait_next_records

    async def perform_seek_after_the_batch(self) -> None:
        # 1. Deliver nothing more: the batch the drain loop holds ends at its next record
        #    (consumer.py:747-748 `if not self.flow_active: break`) instead of running on past
        #    the seek, and the record in flight returns at once (its callback races
        #    `suspend_flow`, :1220-1222). A fetch that starts now returns {}
        #    (drivers/aiokafka.py:1095); one that returns while stopped makes getmany seek to
        #    committed itself (:767-774) instead of delivering records from the old position.
        self.stop_flow()
        # 2. Let the in-flight record finish: its `set_read_offset` (:1223) would otherwise
        #    write its offset over the sought one, and faust would drop every record below it as
        #    already read (:1208-1230) when the partition is read again from there.
        await _drain_loop_between_batches(self)
        # 3. faust's seek (:565-581): `_read_offset` is the committed offset, which the drain
        #    loop's next batch starts from, so what `flow_control.resume()` then clears from the
        #    channel queues (recovery.py:659) is delivered again, and no gap is recorded.
        await perform_seek(self)

    async def wait_next_records_marking_batches(self, timeout: float):
        # Called by the drain loop (the Fetcher's task) at the start of every batch: entering
        # means the previous batch is over, returning means a new one is being delivered.
        self._alpr_drain_task = asyncio.current_task()
        self._alpr_delivering = False
        _between_batches(self).set()
        records, active = await wait_next_records(self, timeout)
        self._alpr_delivering = True
        _between_batches(self).clear()
        return records, active

    perform_seek_after_the_batch.__wrapped__ = perform_seek  # type: ignore[attr-defined]
    wait_next_records_marking_batches.__wrapped__ = wait_next_records  # type: ignore[attr-defined]
    Consumer.perform_seek = perform_seek_after_the_batch  # type: ignore[method-assign]
    Consumer._wait_next_records = wait_next_records_marking_batches  # type: ignore[method-assign]


def _between_batches(consumer: Any) -> asyncio.Event:
    event = getattr(consumer, "_alpr_between_batches", None)
    if event is None:
        event = consumer._alpr_between_batches = asyncio.Event()
    return event


async def _drain_loop_between_batches(consumer: Any) -> None:
    """Return once the drain loop is not delivering a batch: it is waiting for its next one, it
    is this task (getmany's own seek), or it is not running (not started yet: a fresh start
    recovers nothing and starts it after the seek, recovery.py:476-480 and :662; or cancelled
    by a stop or rebalance)."""
    task = getattr(consumer, "_alpr_drain_task", None)
    if (
        not getattr(consumer, "_alpr_delivering", False)
        or task is None
        or task.done()
        or task is asyncio.current_task()
    ):
        return
    between = asyncio.ensure_future(_between_batches(consumer).wait())
    try:
        await asyncio.wait({between, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        between.cancel()


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
            if expected is None:
                # The series exists at 0 from the first message on: an alert on increase()
                # also sees a first jump, and a test sees that the watch ran.
                OFFSET_JUMPS.labels(self.service, tp.topic)
            if expected is not None and offset > expected:
                self.jumps += 1
                OFFSET_JUMPS.labels(self.service, tp.topic).inc()
                log.error(
                    "stream skipped offsets: messages were not processed",
                    extra={
                        "service": self.service,
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "expected_offset": expected,
                        "offset": offset,
                    },
                )
            if expected is None or offset >= expected:
                self.next[tp] = offset + 1
