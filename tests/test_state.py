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
        self.calls = asyncio.Event()  # set on every send: the test waits on it, never on time
        self.log: list[str] = []

    def send_changelog(self, partition, key, value):
        self.sent.append((partition, key, value))
        fut = asyncio.get_running_loop().create_future()
        self.pending.append(fut)
        if self.failures:
            self.failures -= 1
            fut.set_exception(RuntimeError("broker away"))
        self.calls.set()
        return fut

    async def sends(self, n: int) -> None:
        while len(self.sent) < n:
            self.calls.clear()
            await self.calls.wait()

    def ack(self, i: int) -> None:
        self.log.append(f"ack{i}")
        self.pending[i].set_result("ack")


def test_save_returns_only_after_every_acknowledgement():
    async def scenario():
        table = Table()
        task = asyncio.create_task(save_state(table, [(0, "garage-1", {"n": 1}), (1, "garage-2", {"n": 2})]))
        task.add_done_callback(lambda _: table.log.append("saved"))
        await asyncio.wait_for(table.sends(2), 5)
        # A save_state that did not wait would have finished in the step that sent.
        assert not task.done()
        assert table.data == {"garage-1": {"n": 1}, "garage-2": {"n": 2}}
        assert [(p, k) for p, k, _ in table.sent] == [(0, "garage-1"), (1, "garage-2")]
        loop = asyncio.get_running_loop()
        loop.call_soon(table.ack, 0)  # the broker's acknowledgements, one loop turn apart
        loop.call_soon(table.ack, 1)
        await asyncio.wait_for(task, 5)
        assert table.log == ["ack0", "ack1", "saved"]

    asyncio.run(scenario())


def test_failed_send_is_sent_again():
    async def scenario():
        table = Table(failures=1)
        task = asyncio.create_task(save_state(table, [(3, "garage-1", {"n": 1})]))
        await asyncio.wait_for(table.sends(2), 5)  # the resend, after save_state's first backoff
        table.ack(1)
        await asyncio.wait_for(task, 5)
        assert table.sent == [(3, "garage-1", {"n": 1})] * 2

    asyncio.run(scenario())


def test_cancellation_is_not_retried():
    async def scenario():
        table = Table()
        task = asyncio.create_task(save_state(table, [(0, "k", 1)]))
        await asyncio.wait_for(table.sends(1), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(table.sent) == 1

    asyncio.run(scenario())
