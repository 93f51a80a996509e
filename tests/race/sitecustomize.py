"""Test-only: make the recovery-end race of faust 0.15.3 (alpr.kafka.faust_fixes, item 2) frequent
in the service subprocesses of the SIGKILL tests. Never imported by the test suite itself: put this
directory on PYTHONPATH (the tests pass PYTHONPATH on to the services) and set TEST_RACE_SEEK_DELAY_S.

    PYTHONPATH=$PWD:$PWD/tests/race TEST_RACE_SEEK_DELAY_S=1.5 TEST_RACE_DELIVERY_DELAY_S=0.05 \\
      TEST_RACE_BATCH_DELAY_S=0.5 TEST_RACE_BATCHES=40 TEST_RACE_BATCH_MAX=2 [TEST_RACE_NO_BARRIER=1] \\
      .venv/bin/python -m pytest tests/revenue/test_day.py

Only in processes started with `serve` (the services), only when TEST_RACE_SEEK_DELAY_S is set:

- TEST_RACE_SEEK_DELAY_S: aiokafka's `seek_to_committed` sleeps first, longer than the drain
  loop's 1 s nap, so the drain loop wakes and delivers records while the seek is under way;
- TEST_RACE_DELIVERY_DELAY_S, TEST_RACE_DELIVERIES (200): the first stream records of the process
  each take that long to deliver (a CPU-starved loop), so the seek ends in the middle of a batch;
- TEST_RACE_BATCH_DELAY_S (0.5), TEST_RACE_BATCHES (6): the first batches wait inside
  `save_state` (an agent waiting inside its batch), so records stay in its channel queue;
- TEST_RACE_BATCH_MAX: the service's ALPR_<SERVICE>_BATCH_MAX (the tests drop ALPR_* from the environment);
- TEST_RACE_NO_BARRIER=1: faust_fixes installs everything but the seek barrier.

Each resume of faust's flow control that empties non-empty queues prints a "RACE ... cleared"
line to the service's log. Results: docs/reliability.md.
"""

import asyncio
import os
import sys

if os.environ.get("TEST_RACE_SEEK_DELAY_S") and "serve" in sys.argv:
    if os.environ.get("TEST_RACE_BATCH_MAX"):
        for service in ("OCCUPANCY", "REVENUE"):
            os.environ[f"ALPR_{service}_BATCH_MAX"] = os.environ["TEST_RACE_BATCH_MAX"]

    import aiokafka

    _seek = aiokafka.AIOKafkaConsumer.seek_to_committed
    _seek_delay = float(os.environ["TEST_RACE_SEEK_DELAY_S"])

    async def seek_to_committed(self, *partitions):
        print("RACE seek delay", file=sys.stderr, flush=True)
        await asyncio.sleep(_seek_delay)
        return await _seek(self, *partitions)

    aiokafka.AIOKafkaConsumer.seek_to_committed = seek_to_committed

    import alpr.kafka.state as state

    _save = state.save_state
    _batch_delay = float(os.environ.get("TEST_RACE_BATCH_DELAY_S", "0.5"))
    _batches = [int(os.environ.get("TEST_RACE_BATCHES", "6"))]

    async def save_state(table, changes):
        if _batches[0] > 0:
            _batches[0] -= 1
            await asyncio.sleep(_batch_delay)
        return await _save(table, changes)

    state.save_state = save_state  # before the services import it

    if os.environ.get("TEST_RACE_DELIVERY_DELAY_S"):
        from faust.transport.consumer import Consumer

        _init = Consumer.__init__
        _delivery_delay = float(os.environ["TEST_RACE_DELIVERY_DELAY_S"])

        def __init__(self, *args, **kwargs):
            _init(self, *args, **kwargs)
            original, left = self.callback, [int(os.environ.get("TEST_RACE_DELIVERIES", "200"))]

            async def callback(message):
                if left[0] > 0 and not message.topic.endswith("-changelog"):
                    left[0] -= 1
                    await asyncio.sleep(_delivery_delay)
                return await original(message)

            self.callback = callback

        Consumer.__init__ = __init__

    from mode.utils.queues import FlowControlEvent

    _clear = FlowControlEvent.clear

    def clear(self):
        sizes = [q.qsize() for q in self._queues if q.qsize()]
        if sizes:
            print(f"RACE flow_control.resume cleared {sizes}", file=sys.stderr, flush=True)
        return _clear(self)

    FlowControlEvent.clear = clear

    if os.environ.get("TEST_RACE_NO_BARRIER") == "1":
        import alpr.kafka.faust_fixes as faust_fixes

        faust_fixes._install_seek_barrier = lambda: None
        print("RACE no barrier", file=sys.stderr, flush=True)
