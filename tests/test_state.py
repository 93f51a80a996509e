"""save_state: a batch's table changes are acknowledged by the changelog before the batch
returns (faust acks the batch's offsets only then), and a failed send is sent again.

The table here is a stand-in with faust's two members that save_state uses (`data`,
`send_changelog` returning the delivery future); the revenue SIGKILL test
(tests/revenue/test_day.py) runs it against the real broker."""

from __future__ import annotations

import asyncio

import pytest

from alpr.kafka.state import save_state


class Table:
    name = "t"

    def __init__(self, failures: int = 0) -> None:
        self.data: dict = {}
        self.sent: list[tuple[int, str, dict]] = []
        self.pending: list[asyncio.Future] = []
        self.failures = failures

    def send_changelog(self, partition, key, value):
        self.sent.append((partition, key, value))
        fut = asyncio.get_running_loop().create_future()
        self.pending.append(fut)
        if self.failures:
            self.failures -= 1
            fut.set_exception(RuntimeError("broker away"))
        return fut


def test_save_waits_for_every_acknowledgement():
    async def scenario():
        table = Table()
        task = asyncio.create_task(save_state(table, [(0, "garage-1", {"n": 1}), (1, "garage-2", {"n": 2})]))
        await asyncio.sleep(0)  # let the task send (an event-loop turn, not a wait for an outcome)
        assert table.data == {"garage-1": {"n": 1}, "garage-2": {"n": 2}}
        assert [(p, k) for p, k, _ in table.sent] == [(0, "garage-1"), (1, "garage-2")]
        table.pending[0].set_result("ack")
        await asyncio.sleep(0)
        assert not task.done()  # one change still unacknowledged: the batch must not return
        table.pending[1].set_result("ack")
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())


def test_failed_send_is_sent_again():
    async def scenario():
        table = Table(failures=1)
        task = asyncio.create_task(save_state(table, [(3, "garage-1", {"n": 1})]))
        async def resent():
            while len(table.sent) < 2:  # the retry comes after save_state's first backoff (0.2 s)
                await asyncio.sleep(0.01)

        await asyncio.wait_for(resent(), 5)
        table.pending[-1].set_result("ack")
        await asyncio.wait_for(task, 5)
        assert table.sent == [(3, "garage-1", {"n": 1})] * 2

    asyncio.run(scenario())


def test_cancellation_is_not_retried():
    async def scenario():
        table = Table()
        task = asyncio.create_task(save_state(table, [(0, "k", 1)]))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(table.sent) == 1

    asyncio.run(scenario())
