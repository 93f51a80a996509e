"""The fee function on its edge cases: grace, midnight, DST changes (America/Los_Angeles),
multi-day stays, free periods, early bird, flat rates; and the tariff file's validation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from alpr.errors import ConfigError
from services.revenue.tariff import FacilityTariff, load_tariff, price
from tests.support.tariffs import DEMO

LA = ZoneInfo("America/Los_Angeles")
RATES = FacilityTariff(hourly_rate_cents=300, daily_max_cents=1500, grace_minutes=15)


def t(y, mo, d, h, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=LA)


def test_grace_period_is_free_and_one_minute_more_is_an_hour():
    assert price(RATES, t(2026, 11, 24, 10), t(2026, 11, 24, 10, 15)).amount_cents == 0
    fee = price(RATES, t(2026, 11, 24, 10), t(2026, 11, 24, 10, 16))
    assert (fee.amount_cents, fee.rule) == (300, "hourly")


def test_started_hours_and_daily_maximum():
    assert price(RATES, t(2026, 11, 24, 10), t(2026, 11, 24, 12, 30)).amount_cents == 900
    fee = price(RATES, t(2026, 11, 24, 8), t(2026, 11, 24, 20))
    assert fee.amount_cents == 1500 and "daily maximum" in fee.lines[0]


def test_midnight_an_hour_belongs_to_the_day_it_starts_and_each_day_has_its_maximum():
    # 23:30 -> 00:30: one started hour, on the 24th.
    assert price(RATES, t(2026, 11, 24, 23, 30), t(2026, 11, 25, 0, 30)).amount_cents == 300
    # 18:00 -> 10:00 next day: 6 h on the 24th (1500 max) + 10 h on the 25th (max 1500).
    fee = price(RATES, t(2026, 11, 24, 18), t(2026, 11, 25, 10))
    assert fee.amount_cents == 3000 and len(fee.lines) == 2


def test_multi_day_stay_is_capped_per_local_day():
    # 72 hours from 09:00: 15 h on the 23rd, 24 h each on the 24th and 25th, 9 h on the 26th.
    fee = price(RATES, t(2026, 11, 23, 9), t(2026, 11, 26, 9))
    assert fee.amount_cents == 4 * 1500
    assert [line.split(":")[0] for line in fee.lines] == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"]
    assert price(RATES, t(2026, 11, 23, 22), t(2026, 11, 25, 1)).amount_cents == 600 + 1500 + 300


def test_dst_spring_forward_counts_real_hours_not_wall_clock():
    # 2026-03-08 02:00 PST -> 03:00 PDT: 01:00 -> 04:00 on the wall is two real hours.
    fee = price(RATES, t(2026, 3, 8, 1), t(2026, 3, 8, 4))
    assert fee.amount_cents == 600


def test_dst_fall_back_day_has_25_hours():
    # 2026-11-01 02:00 PDT -> 01:00 PST: 00:00 -> 03:00 on the wall is four real hours.
    assert price(RATES, t(2026, 11, 1, 0), t(2026, 11, 1, 3)).amount_cents == 1200
    cheap = FacilityTariff(hourly_rate_cents=100, daily_max_cents=10_000, grace_minutes=0)
    fee = price(cheap, t(2026, 11, 1, 0), t(2026, 11, 2, 0))  # midnight to midnight: 25 hours
    assert fee.amount_cents == 2500


def test_free_periods_skip_whole_free_hours_only():
    rates = FacilityTariff(
        hourly_rate_cents=300,
        daily_max_cents=1500,
        grace_minutes=0,
        free_periods=[{"days": ["tue"], "start": "18:00", "end": "24:00"}],
    )
    assert price(rates, t(2026, 11, 24, 17), t(2026, 11, 24, 21)).amount_cents == 300  # only 17-18 billed
    assert price(rates, t(2026, 11, 24, 17, 30), t(2026, 11, 24, 19)).amount_cents == 300  # 17:30-18:30 partly billable
    assert price(rates, t(2026, 11, 24, 19), t(2026, 11, 24, 22)).rule == "hourly"
    assert price(rates, t(2026, 11, 24, 19), t(2026, 11, 24, 22)).amount_cents == 0


def test_early_bird_and_flat_rates():
    tariff = load_tariff(DEMO)
    early = tariff.fee("garage-1", t(2026, 11, 24, 7, 30), t(2026, 11, 24, 17))
    assert (early.amount_cents, early.rule) == (1000, "early_bird")
    late = tariff.fee("garage-1", t(2026, 11, 24, 9, 30), t(2026, 11, 24, 17))
    assert (late.amount_cents, late.rule) == (1500, "hourly")
    assert tariff.fee("garage-1", t(2026, 11, 29, 10), t(2026, 11, 29, 15)).amount_cents == 0  # Sunday is free
    flat = FacilityTariff(hourly_rate_cents=0, daily_max_cents=0, grace_minutes=5, flat_rate_cents=2000)
    assert price(flat, t(2026, 11, 24, 19), t(2026, 11, 25, 1)).amount_cents == 4000
    assert tariff.version.startswith("demo-2026-11@") and tariff.accepts_permit("garage-1", "monthly")
    assert not tariff.accepts_permit("garage-1", "visitor")
    assert tariff.fee("lot-new", t(2026, 11, 24, 10), t(2026, 11, 24, 11)).amount_cents == 200  # the '*' rates


@pytest.mark.parametrize(
    "body,problem",
    [
        (
            "version: v1\ntimezone: Mars/Olympus\nfacilities: {g: {hourly_rate_cents: 1, daily_max_cents: 1}}",
            "unknown time zone",
        ),
        (
            "version: v1\ntimezone: UTC\nfacilities: {g: {hourly_rate_cents: 300, daily_max_cents: 100}}",
            "below one hour",
        ),
        (
            "version: v1\ntimezone: UTC\nfacilities: {g: {hourly_rate_cents: 1, daily_max_cents: 1, colour: red}}",
            "colour",
        ),
        (
            "version: v1\ntimezone: UTC\nfacilities: {g: {hourly_rate_cents: 1, daily_max_cents: 1, "
            "free_periods: [{start: '20:00', end: '06:00'}]}}",
            "start must be before end",
        ),
    ],
)
def test_a_bad_tariff_is_refused_with_the_reason(tmp_path, body, problem):
    path = tmp_path / "tariff.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=problem):
        load_tariff(path)
