"""Continuity: a batch that jumps over offsets of a partition is not processed past the jump;
the partition is sought back to the first missing offset, and what this process already did
is not done twice. (The stand-in app has the two members Continuity uses: a revocation
signal and the consumer's seek; the SIGKILL tests run it under the real faust.)"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from types import SimpleNamespace

from alpr.kafka.faust_fixes import Continuity


class Signal:
    def __init__(self) -> None:
        self.receivers = []

    def connect(self, fn):
        self.receivers.append(fn)
        return fn


class App:
    def __init__(self) -> None:
        self.on_partitions_revoked = Signal()
        self.sought: list[tuple[str, int]] = []

        async def seek(tp, offset):
            self.sought.append((tp.topic, offset))

        self.consumer = SimpleNamespace(seek=seek)


TP = namedtuple("TP", "topic partition")  # hashable, like faust's TP


def event(topic: str, offset: int):
    return SimpleNamespace(message=SimpleNamespace(tp=TP(topic, 0), offset=offset))


def offsets(events):
    return [(e.message.tp.topic, e.message.offset) for e in events]


def test_a_jump_is_sought_back_and_read_again():
    async def scenario():
        app = App()
        guard = Continuity(app, "test")
        a, b = event("a", 0).message.tp, event("b", 0).message.tp
        batch = [SimpleNamespace(message=SimpleNamespace(tp=a, offset=o)) for o in range(11)]
        assert len(await guard.admit(batch)) == 11
        # offsets 11-14 of "a" never came; "b" goes on normally in the same batch
        batch = ([SimpleNamespace(message=SimpleNamespace(tp=a, offset=o)) for o in range(15, 18)] +
                 [SimpleNamespace(message=SimpleNamespace(tp=b, offset=0))])
        assert offsets(await guard.admit(batch)) == [("b", 0)]
        assert app.sought == [("a", 11)] and guard.jumps == 1
        # after the seek: 11.. again; what was done before the jump is not done twice
        batch = [SimpleNamespace(message=SimpleNamespace(tp=a, offset=o)) for o in (9, 10, 11, 12, 13, 14, 15)]
        assert [o for _, o in offsets(await guard.admit(batch))] == [11, 12, 13, 14, 15]
        # a rebalance: the stream restarts from the committed offset, which is expected
        await app.on_partitions_revoked.receivers[0](app, set())
        batch = [SimpleNamespace(message=SimpleNamespace(tp=a, offset=o)) for o in (3, 4)]
        assert len(await guard.admit(batch)) == 2

    asyncio.run(scenario())
