"""The seek barrier of `alpr.kafka.faust_fixes` (item 2 of its docstring), against faust's own code.

A real faust 0.15.3 App and its aiokafka-driver Consumer, not started: the test runs faust's
`_drain_messages`, `getmany`, `perform_seek`, `ack` and `_new_offset`, mode's FlowControlEvent
and a real channel queue (`clear_on_resume`). Only the broker side is faked: `_getmany` hands
out a batch from a fake fetch position, `seek_to_committed` moves that position back to the
committed offset, and `highwater`. Every step of the race is ordered by events, no timing:

1. the drain loop delivers offsets [C, 23) fetched before the seek; an agent takes the first
   ones and then waits inside its batch (as revenue's waits for a changelog acknowledgement),
   so the rest stay in its channel queue;
2. while offset 10 is in flight, recovery completes as faust's `on_recovery_completed` does
   (tables/recovery.py:655-660): `perform_seek`, then `flow_control.resume()`, `resume_flow()`;
3. the seek answers (when the test lets it, or at once: either way before the drain loop has
   seen the flow stop, which takes it a few loop turns); the in-flight record returns after
   it; the agent goes on. (A barrier that only stopped the flow fails both: checked.)

Without the barrier this is the loss the SIGKILL tests saw once in ten runs: offsets 4-10 are
never delivered, the agent's input jumps (Continuity counts it) and the commit stops at 4.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
import pytest
from faust.transport.consumer import Consumer
from faust.types import TP

from alpr.kafka import faust_fixes

END = 23  # the partition holds offsets 0..22
IN_FLIGHT = 10  # the record whose callback is running when recovery completes
AGENT_WAITS_AFTER = 3  # the agent's first batch ends here; it waits inside it


class Race:
    """One run of the scenario above; `committed` is the partition's committed offset (None: no commit)."""

    def __init__(self, committed: int | None, instant_seek: bool) -> None:
        self.committed = committed
        self.instant_seek = instant_seek
        self.start = committed or 0
        self.app = faust.App(f"seek-barrier-{committed}", broker="kafka://localhost:1", store="memory://")
        self.consumer = self.app.consumer
        self.tp = TP("passes", 0)
        self.position = self.start  # the fake fetcher's position (aiokafka's, in the real thing)
        self.seen: list[int] = []  # offsets in the order the agent got them
        self.continuity = faust_fixes.Continuity(self.app, f"test-seek-barrier-{committed}")

    def record(self, offset: int) -> SimpleNamespace:
        return SimpleNamespace(
            topic=self.tp.topic,
            partition=self.tp.partition,
            offset=offset,
            timestamp=0,
            timestamp_type=0,
            headers=[],
            key=b"k",
            value=b"v",
            checksum=None,
            serialized_key_size=1,
            serialized_value_size=1,
        )

    async def run(self) -> None:
        consumer, tp = self.consumer, self.tp
        queue = self.app.channel().queue  # an agent's channel queue: cleared by flow_control.resume()
        seek_started, seek_may_answer, recovered = asyncio.Event(), asyncio.Event(), asyncio.Event()
        in_flight_may_return, agent_may_go, exhausted = asyncio.Event(), asyncio.Event(), asyncio.Event()

        consumer._active_partitions = {tp}  # the stream partition, resumed at recovery.py:649
        consumer.highwater = lambda tp: END
        self.app.topics.acks_enabled_for = lambda topic: True

        async def _getmany(active_partitions, timeout):
            if not consumer.flow_active:  # drivers/aiokafka.py:1095
                return {}
            if self.position >= END:
                exhausted.set()
                await asyncio.Event().wait()  # nothing more to fetch: park until cancelled
            batch = [self.record(o) for o in range(self.position, END)]
            self.position = END
            return {tp: batch}

        async def seek_to_committed():
            seek_started.set()
            if not self.instant_seek:
                await seek_may_answer.wait()  # the OffsetFetch round trip(s), through the consumer thread
            self.position = self.start  # aiokafka's seek (or faust_fixes' seek_to_beginning)
            return {tp: self.committed}

        async def recovery_completed():  # tables/recovery.py:655-660
            await consumer.perform_seek()
            self.app.flow_control.resume()
            consumer.resume_flow()
            recovered.set()

        recovery: list[asyncio.Task] = []

        async def on_message(message):  # the conductor's callback: into the agent's channel queue
            queue.put_nowait(message)
            if message.offset == IN_FLIGHT and not recovery:
                recovery.append(asyncio.ensure_future(recovery_completed()))
                await in_flight_may_return.wait()

        async def agent():
            while True:
                message = await queue.get()
                self.continuity.watch([SimpleNamespace(message=message)])
                self.seen.append(message.offset)
                consumer.ack(message)
                if message.offset == AGENT_WAITS_AFTER and not agent_may_go.is_set():
                    await agent_may_go.wait()

        consumer._getmany = _getmany
        consumer.seek_to_committed = seek_to_committed
        consumer.callback = on_message
        self.app.flow_control.resume()  # recovery resumed the flow already (recovery.py:451)
        fetcher = SimpleNamespace(_stopped=asyncio.Event())
        tasks = [asyncio.ensure_future(consumer._drain_messages(fetcher)), asyncio.ensure_future(agent())]
        try:
            await seek_started.wait()
            seek_may_answer.set()
            await recovered.wait()
            in_flight_may_return.set()
            agent_may_go.set()
            await exhausted.wait()
            while not queue.empty():  # let the agent take what is queued (yields, no timing)
                await asyncio.sleep(0)
        finally:
            for task in tasks + recovery:
                task.cancel()
            await asyncio.gather(*tasks, *recovery, return_exceptions=True)

    def commits(self) -> list[int]:
        """The offsets faust's commit would send, one commit after another, from what was acked."""
        out: list[int] = []
        while (offset := self.consumer._new_offset(self.tp)) is not None:
            if not self.consumer._should_commit(self.tp, offset):
                break
            self.consumer._committed_offset[self.tp] = offset
            out.append(offset)
        return out


def play(committed: int | None, instant_seek: bool) -> Race:
    async def scenario() -> Race:
        race = Race(committed, instant_seek)  # inside the loop: faust's services bind the loop they are made in
        await asyncio.wait_for(race.run(), 30)  # the bound only turns a hang into a failure
        return race

    return asyncio.run(scenario())


@pytest.fixture
def barrier():
    faust_fixes.install()
    assert Consumer.perform_seek.__wrapped__ is not None


@pytest.fixture
def faust_0153(monkeypatch):
    """faust's own perform_seek and _wait_next_records, as if install() had not patched them."""
    faust_fixes.install()
    monkeypatch.setattr(Consumer, "perform_seek", Consumer.perform_seek.__wrapped__)
    monkeypatch.setattr(Consumer, "_wait_next_records", Consumer._wait_next_records.__wrapped__)


@pytest.mark.parametrize("instant_seek", [False, True], ids=["seek-answers-later", "seek-answers-at-once"])
@pytest.mark.parametrize("committed", [None, 2], ids=["no-commit", "committed-2"])
def test_with_the_barrier_every_offset_reaches_the_agent_and_is_committed(barrier, committed, instant_seek):
    race = play(committed, instant_seek)
    start = committed or 0
    assert set(range(start, END)) <= set(race.seen), race.seen
    assert race.continuity.jumps == 0, race.seen
    assert sorted(race.consumer._gap[race.tp]) == []
    assert race.commits()[-1:] == [END]
    # What the agent had taken before the seek came again after it (at least once).
    assert race.seen == list(range(start, AGENT_WAITS_AFTER + 1)) + list(range(start, END))


@pytest.mark.parametrize("instant_seek", [False, True], ids=["seek-answers-later", "seek-answers-at-once"])
@pytest.mark.parametrize("committed", [None, 2], ids=["no-commit", "committed-2"])
def test_without_the_barrier_faust_loses_the_queued_offsets(faust_0153, committed, instant_seek):
    race = play(committed, instant_seek)
    missing = sorted(set(range(committed or 0, END)) - set(race.seen))
    assert missing == list(range(AGENT_WAITS_AFTER + 1, IN_FLIGHT + 1)), race.seen
    assert race.continuity.jumps == 1
    commits = race.commits()
    assert commits == [AGENT_WAITS_AFTER + 1]  # and then stuck: 4..10 are never acked


def test_flow_control_resume_clears_queues_even_when_already_active():
    """The trap under item 2: mode's FlowControlEvent.resume() is not a no-op on an active flow."""

    async def scenario():
        app = faust.App("seek-barrier-resume", broker="kafka://localhost:1", store="memory://")
        app.flow_control.resume()
        queue = app.channel().queue
        for i in range(4):
            queue.put_nowait(i)
        assert app.flow_control.is_active() and queue.qsize() == 4
        app.flow_control.resume()
        return queue.qsize()

    assert asyncio.run(scenario()) == 0


def test_install_refuses_another_faust_version(monkeypatch):
    monkeypatch.setattr(faust_fixes, "_installed", False)
    monkeypatch.setattr(faust, "__version__", "0.16.0")
    with pytest.raises(RuntimeError, match="0.15.3"):
        faust_fixes.install()
