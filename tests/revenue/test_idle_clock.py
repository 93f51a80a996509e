"""The idle clock, as plain values: how a quiet partition's clock moves on with the wall clock."""

from __future__ import annotations

from services.revenue.clock import IdleClock, PartitionClock

S = 1_000
NOW = 1_800_000_000_000  # a wall time, epoch ms


def test_a_live_partition_follows_the_wall_clock_lag_behind_once_quiet_for_the_lag():
    clock = PartitionClock(stream_ms=NOW - 2 * S, arrived_ms=NOW)  # a pass captured 2 s before it arrived
    assert clock.idle_ms(NOW + 9 * S, lag_ms=10 * S) is None  # quiet for less than the lag
    assert clock.idle_ms(NOW + 10 * S, lag_ms=10 * S) == NOW - 2 * S
    assert clock.idle_ms(NOW + 3_600 * S, lag_ms=10 * S) == NOW + 3_590 * S - 2 * S


def test_a_recording_replayed_days_later_keeps_its_own_time():
    recorded = NOW - 6 * 86_400 * S  # the demo's footage was captured days before the run
    clock = PartitionClock(stream_ms=recorded, arrived_ms=NOW)
    assert clock.idle_ms(NOW + 70 * S, lag_ms=10 * S) == recorded + 60 * S


def test_the_clock_never_runs_past_wall_time_minus_the_lag():
    clock = PartitionClock(stream_ms=NOW + 3_600 * S, arrived_ms=NOW)  # a camera an hour fast
    assert clock.idle_ms(NOW + 20 * S, lag_ms=10 * S) == NOW + 10 * S


def test_ticks_take_the_latest_idle_partition_and_wait_for_the_resolution():
    idle = IdleClock(lag_ms=10 * S, resolution_ms=1 * S)
    idle.saw(0, NOW - 60 * S, NOW)
    idle.saw(1, None, NOW)  # a record without a time (for the DLQ) on a partition never seen: nothing known
    assert idle.partitions.keys() == {0}
    assert idle.tick(NOW + 5 * S) is None
    assert idle.tick(NOW + 10 * S) == NOW - 60 * S
    idle.published(NOW - 60 * S)
    assert idle.tick(NOW + 10 * S + 500) is None  # moved less than the resolution
    assert idle.tick(NOW + 11 * S) == NOW - 59 * S
    idle.saw(0, None, NOW + 11 * S)  # traffic again: not idle for another lag
    assert idle.tick(NOW + 15 * S) is None
    idle.saw(2, NOW + 12 * S, NOW + 12 * S)
    assert idle.tick(NOW + 30 * S) == NOW + 20 * S  # the partition that got furthest
    idle.forget()
    assert idle.tick(NOW + 60 * S) is None
