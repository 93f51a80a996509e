"""Continuity: a batch that jumps over offsets of a partition is logged and counted (a loss:
our topics are neither compacted nor transactional); a stream that starts again lower after a
rebalance is not. (The stand-in app has the one member Continuity uses, the revocation
signal; the SIGKILL tests run it under the real faust.)"""

from __future__ import annotations

import asyncio
import logging
from collections import namedtuple
from types import SimpleNamespace

from alpr.kafka.faust_fixes import Continuity

TP = namedtuple("TP", "topic partition")  # hashable, like faust's TP


class Signal:
    def __init__(self) -> None:
        self.receivers = []

    def connect(self, fn):
        self.receivers.append(fn)
        return fn


def batch(topic: str, offsets) -> list:
    return [SimpleNamespace(message=SimpleNamespace(tp=TP(topic, 0), offset=o)) for o in offsets]


def test_a_jump_is_reported_and_a_restart_after_a_rebalance_is_not(caplog):
    app = SimpleNamespace(on_partitions_revoked=Signal())
    guard = Continuity(app, "test")
    with caplog.at_level(logging.ERROR, logger="alpr.kafka.faust_fixes"):
        guard.watch(batch("a", range(11)) + batch("b", [0]))
        guard.watch(batch("a", range(11, 13)) + batch("b", [1, 2]))
        assert guard.jumps == 0
        guard.watch(batch("a", [15, 16]))  # 13 and 14 never came
        assert guard.jumps == 1
        assert [(r.expected_offset, r.offset) for r in caplog.records] == [(13, 15)]
        guard.watch(batch("a", [9, 10]))  # a redelivery below what was seen: not a jump
        assert guard.jumps == 1
        asyncio.run(app.on_partitions_revoked.receivers[0](app, set()))
        guard.watch(batch("a", [3, 4]) + batch("b", [0]))  # from the committed offset again
        assert guard.jumps == 1
