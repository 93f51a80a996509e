"""The idle clock: how a quiet facility's stream time moves on without a next vehicle.

Revenue's clock is the capture time of the passes it has seen: a session is decided once
that clock passes its exit plus the payment window (`services.revenue.match`). Only a new
pass moved it, so on a quiet night the last sessions of the day waited for the morning's
first vehicle. Now, once a passes partition has had no pass for `lag` (wall time), its clock
moves on with the wall clock, `lag` behind:

    clock = stream time of its latest pass + (wall now - wall time that pass arrived) - lag

and never past `wall now - lag`. For live cameras (capture time is about arrival time) that is
the wall clock minus the lag; for a replay of recorded footage (the demo's is captured days
before it runs) it continues the recording's own time at the wall's pace and never jumps
ahead of it: an absolute `wall now - lag` would jump days at the first quiet second and, for
one, report every payment of a vehicle still parked as paid for no session.

Pure: `IdleClock` keeps, per passes partition, the latest pass's stream time and when it
arrived, and says what tick to publish; the stream application publishes it as a record on
the matcher's input (`RevenueStream.idle_tick`), where it counts like any other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PartitionClock:
    """A passes partition's stream time and the wall time its latest record arrived (epoch ms)."""

    stream_ms: int
    arrived_ms: int

    def idle_ms(self, wall_ms: int, lag_ms: int) -> int | None:
        """The partition's clock at `wall_ms`, or None while a record arrived less than `lag_ms` ago."""
        idle = wall_ms - self.arrived_ms
        if idle < lag_ms:
            return None
        return min(self.stream_ms + idle - lag_ms, wall_ms - lag_ms)


class IdleClock:
    """The idle clocks of the passes partitions this instance owns."""

    def __init__(self, lag_ms: int, resolution_ms: int) -> None:
        self.lag_ms = lag_ms
        # A tick is worth publishing once the clock moved this far: every matcher partition
        # gets one message per tick, so a quiet night costs (night / resolution) messages each.
        self.resolution_ms = resolution_ms
        self.partitions: dict[int, PartitionClock] = {}
        self.published_ms = 0

    def saw(self, partition: int, stream_ms: int | None, wall_ms: int) -> None:
        """A record arrived on `partition` (a pass with stream time `stream_ms`, or one without a
        time, such as a message for the DLQ: the partition is not idle either way)."""
        clock = self.partitions.get(partition)
        if clock is None:
            if stream_ms is not None:
                self.partitions[partition] = PartitionClock(stream_ms, wall_ms)
            return
        clock.stream_ms = max(clock.stream_ms, stream_ms or 0)
        clock.arrived_ms = max(clock.arrived_ms, wall_ms)

    def published(self, tick_ms: int) -> None:
        """A tick (idle or from traffic) went out to the matcher."""
        self.published_ms = max(self.published_ms, tick_ms)

    def forget(self) -> None:
        """Partitions were revoked: whoever owns them next starts from its own state."""
        self.partitions.clear()

    def tick(self, wall_ms: int) -> int | None:
        """The clock to publish now, or None: the latest clock of the idle partitions, once it is
        `resolution_ms` past the last tick published."""
        clocks = [c.idle_ms(wall_ms, self.lag_ms) for c in self.partitions.values()]
        latest = max((c for c in clocks if c is not None), default=None)
        if latest is None or latest < self.published_ms + self.resolution_ms:
            return None
        return latest
