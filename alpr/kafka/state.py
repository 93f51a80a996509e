"""Stream state (faust tables) made durable before the offsets that produced it can be committed.

Why not `table[key] = value`: faust sends a table change to its changelog through a producer
buffer, and commits offsets after `producer.flush()`, whose buffer drain gives up as soon as
0.1 s pass without a send (faust-streaming 0.15.3, transport/producer.py `flush_atmost`).
Under CPU load a commit can therefore reach the broker before the state change it depends
on, and a SIGKILL then restarts the service past events whose effect on the state is lost.
Writing the change and waiting for the broker's acknowledgement inside the batch closes the
gap: faust acks a batch's events only after the batch returns. (Found reading faust while
chasing a revenue SIGKILL failure whose cause turned out to be another one: see
`alpr.kafka.faust_fixes`.) Both stateful services, revenue and occupancy, write their tables
with it: one rule, state acknowledged, then commit.

Each change also names its partition: a batch mixes partitions, and the changelog partition
must be the source partition of the key, or recovery after a rebalance restores it to the
wrong worker (faust's own `table[key] = value` uses the partition of the current event).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alpr.retry import until_done

log = logging.getLogger(__name__)


def faust_data_dir(data_dir: Path, app_id: str) -> Path:
    """Where a faust app keeps its local files (worker state, table stores): under the data
    directory, never the working directory. Without `datadir` faust creates `<app>-data/`
    wherever the process starts: the repository root in development, and in the image the
    root-owned `/app`, where the service (user 65534) cannot write and so cannot start."""
    path = Path(data_dir).resolve() / "faust" / app_id
    path.mkdir(parents=True, exist_ok=True)
    return path


ACK_TIMEOUT_S = 30.0


async def save_state(table: Any, changes: Iterable[tuple[int, Any, Any]]) -> None:
    """Set each (partition, key, value) in `table` and return once the broker has acknowledged
    every changelog message; a failed send is sent again (the changelog is compacted by key,
    so a repeat is harmless) until it succeeds, so the batch waits instead of losing state."""
    changes = list(changes)
    for _, key, value in changes:
        table.data[key] = value

    async def send_all() -> None:
        sent = [table.send_changelog(partition, key, value) for partition, key, value in changes]
        # Bounded: a send that faust's producer buffer lost (its sender task died) would
        # otherwise hold the partition forever; sending again is harmless.
        await asyncio.wait_for(asyncio.gather(*sent), ACK_TIMEOUT_S)

    await until_done(send_all, log, "state changelog write failed; retrying", {"table": getattr(table, "name", "?")})
