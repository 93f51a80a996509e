"""Tariff: the operator's fee resolution as validated configuration, and the `fee` it implies.

Policy section 4.2 names "Metro's parking ordinance and adopted fee resolution"; this module
is that resolution in code. A YAML file (`infra/tariff.demo.yaml`) gives, per facility, the
hourly rate, the daily maximum, the grace period, free periods, accepted permit types and
optional early-bird or flat rates. It is validated strictly at start (unknown keys, a
maximum below one hour's rate, an unknown weekday stop the service).

How a stay is priced (`Tariff.fee`), in the facility's local time zone:

1. A stay no longer than `grace_minutes` is free (the vehicle looked and left).
2. With a `flat_rate_cents`, the stay costs that per local calendar day it touches.
3. Otherwise the stay is cut into hours counted from the entry; an hour that lies wholly in
   free periods is not billed; every other hour costs `hourly_rate_cents` and belongs to
   the local calendar day in which it starts. Each day's sum is capped at
   `daily_max_cents`. Days run from local midnight to local midnight, so a DST day has 23
   or 25 hours (zoneinfo), and a stay over midnight is charged on both days' counts.
4. An early-bird rate replaces (3) when it is cheaper and the stay qualifies: entered in
   its window and left the same local day inside its exit window.

The version string (the YAML's `version` plus a digest of the file) goes into every match,
so a decision can always be traced to the exact resolution that priced it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alpr.errors import ConfigError

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(value: str) -> int:
    """'HH:MM' (or '24:00') -> minutes after midnight."""
    hh, _, mm = value.partition(":")
    if not (hh.isdigit() and mm.isdigit() and len(mm) == 2):
        raise ValueError(f"{value!r} is not HH:MM")
    minutes = int(hh) * 60 + int(mm)
    if int(mm) >= 60 or minutes > 24 * 60:
        raise ValueError(f"{value!r} is not a time of day")
    return minutes


class FreePeriod(_Strict):
    """Local times in which parking is free, e.g. weekends, or evenings after 18:00."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), description="Weekdays it applies to.")
    start: str = Field("00:00", description="Local start time, HH:MM.")
    end: str = Field("24:00", description="Local end time, HH:MM (24:00 = midnight at the end of the day).")

    @model_validator(mode="after")
    def _start_before_end(self):
        if _clock(self.start) >= _clock(self.end):
            raise ValueError("start must be before end (split a period that crosses midnight in two)")
        return self

    def covers(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return WEEKDAYS[local.weekday()] in self.days and _clock(self.start) <= minute < _clock(self.end)


class EarlyBird(_Strict):
    """A flat price for commuters: in before `enter_by`, out between `exit_from` and `exit_by` the same day."""

    flat_cents: int = Field(ge=0, le=1_000_000, description="Price of a qualifying stay.")
    enter_from: str = Field("00:00", description="Earliest local entry time, HH:MM.")
    enter_by: str = Field(description="Latest local entry time (exclusive), HH:MM.")
    exit_from: str = Field("00:00", description="Earliest local exit time, HH:MM.")
    exit_by: str = Field("24:00", description="Latest local exit time (exclusive), HH:MM.")
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]), description="Weekdays it is offered.")

    @field_validator("enter_from", "enter_by", "exit_from", "exit_by")
    @classmethod
    def _is_clock(cls, value: str) -> str:
        _clock(value)
        return value

    def qualifies(self, entry: datetime, exit: datetime) -> bool:
        if entry.date() != exit.date() or WEEKDAYS[entry.weekday()] not in self.days:
            return False
        e, x = entry.hour * 60 + entry.minute, exit.hour * 60 + exit.minute
        return _clock(self.enter_from) <= e < _clock(self.enter_by) and _clock(self.exit_from) <= x < _clock(
            self.exit_by
        )


class FacilityTariff(_Strict):
    """The rates of one facility."""

    hourly_rate_cents: int = Field(ge=0, le=1_000_000, description="Price of each started hour.")
    daily_max_cents: int = Field(ge=0, le=10_000_000, description="Most one local calendar day can cost.")
    grace_minutes: int = Field(15, ge=0, le=24 * 60, description="A stay this short or shorter is free.")
    free_periods: list[FreePeriod] = Field(
        default_factory=list, description="Local times in which hours are not billed."
    )
    permit_types: list[str] = Field(
        default_factory=list, description="Permit types honoured here ('*' facility permits too)."
    )
    early_bird: EarlyBird | None = Field(None, description="Optional commuter flat rate.")
    flat_rate_cents: int | None = Field(
        None, ge=0, le=10_000_000, description="Event/flat pricing: this much per local calendar day instead of hourly."
    )

    @model_validator(mode="after")
    def _max_covers_an_hour(self):
        if self.daily_max_cents < self.hourly_rate_cents:
            raise ValueError("daily_max_cents is below one hour's rate")
        return self


class TariffFile(_Strict):
    version: str = Field(
        min_length=1, max_length=60, pattern=r"^[A-Za-z0-9._-]+$", description="The resolution's name."
    )
    timezone: str = Field(description="IANA time zone of the facilities (local days, free periods).")
    facilities: dict[str, FacilityTariff] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


@dataclass(frozen=True)
class Fee:
    """What a stay costs and why: the lines an appeal hearing can read."""

    amount_cents: int
    rule: Literal["grace", "hourly", "early_bird", "flat", "no_tariff"]
    lines: tuple[str, ...] = field(default_factory=tuple)


class Tariff:
    """A validated fee resolution; `fee(facility, entry, exit)` prices a stay."""

    def __init__(self, spec: TariffFile, digest: str) -> None:
        self.spec = spec
        self.zone = ZoneInfo(spec.timezone)
        self.version = f"{spec.version}@{digest[:12]}"

    def facility(self, facility_id: str) -> FacilityTariff | None:
        return self.spec.facilities.get(facility_id) or self.spec.facilities.get("*")

    def accepts_permit(self, facility_id: str, permit_type: str | None) -> bool:
        rates = self.facility(facility_id)
        return rates is not None and (permit_type or "") in rates.permit_types

    def fee(self, facility_id: str, entry: datetime, exit: datetime) -> Fee:
        rates = self.facility(facility_id)
        if rates is None:
            return Fee(0, "no_tariff", (f"no tariff for facility {facility_id}",))
        return price(rates, entry.astimezone(self.zone), exit.astimezone(self.zone))


def price(rates: FacilityTariff, entry: datetime, exit: datetime) -> Fee:
    """Price a stay between two aware local times (see the module docstring for the rules)."""
    if exit < entry:
        raise ValueError("exit before entry")
    zone = entry.tzinfo
    # Aware arithmetic in UTC: local wall-clock subtraction is wrong across a DST change.
    duration = exit.timestamp() - entry.timestamp()
    minutes = duration / 60
    if minutes <= rates.grace_minutes:
        return Fee(0, "grace", (f"stay of {minutes:.0f} min within the {rates.grace_minutes} min grace period",))
    if rates.flat_rate_cents is not None:
        days = _local_days(entry, exit)
        return Fee(rates.flat_rate_cents * len(days), "flat", tuple(f"{d}: flat {rates.flat_rate_cents}" for d in days))
    per_day: dict[date, int] = {}
    hours = int(-(-duration // 3600))  # started hours
    for k in range(hours):
        start = datetime.fromtimestamp(entry.timestamp() + 3600 * k, zone)
        end = datetime.fromtimestamp(min(entry.timestamp() + 3600 * (k + 1), exit.timestamp()), zone)
        if _wholly_free(rates.free_periods, start, end):
            continue
        per_day[start.date()] = per_day.get(start.date(), 0) + 1
    total, lines = 0, []
    for day, count in sorted(per_day.items()):
        charge = min(count * rates.hourly_rate_cents, rates.daily_max_cents)
        capped = " (daily maximum)" if charge < count * rates.hourly_rate_cents else ""
        lines.append(f"{day}: {count} h x {rates.hourly_rate_cents} = {charge}{capped}")
        total += charge
    if not per_day:
        lines.append("every hour in free periods")
    if rates.early_bird and rates.early_bird.qualifies(entry, exit) and rates.early_bird.flat_cents < total:
        return Fee(
            rates.early_bird.flat_cents,
            "early_bird",
            (f"early bird flat {rates.early_bird.flat_cents} (hourly would be {total})",),
        )
    return Fee(total, "hourly", tuple(lines))


def _local_days(entry: datetime, exit: datetime) -> list[date]:
    days, day = [], entry.date()
    while day <= exit.date():
        days.append(day)
        day += timedelta(days=1)
    return days


def _wholly_free(periods: list[FreePeriod], start: datetime, end: datetime) -> bool:
    """Is every minute of [start, end) inside some free period? Checked minute by minute
    boundaries of the periods, which is exact because periods start and end on minutes."""
    if not periods:
        return False
    t = start.timestamp()
    stop = end.timestamp()
    zone = start.tzinfo
    while t < stop:
        local = datetime.fromtimestamp(t, zone)
        if not any(p.covers(local) for p in periods):
            return False
        t = (t // 60 + 1) * 60  # next minute boundary (zone offsets are whole minutes)
    return True


def load_tariff(path: Path) -> Tariff:
    """Read and validate the tariff, or raise a one-line ConfigError naming the file and the problem."""
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"tariff {path} does not exist (ALPR_REVENUE_TARIFF_FILE)") from None
    try:
        raw = yaml.safe_load(text)
        spec = TariffFile.model_validate(raw)
    except yaml.YAMLError as err:
        raise ConfigError(f"tariff {path}: not YAML ({str(err).splitlines()[0]})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "tariff"
        raise ConfigError(f"tariff {path}: {where}: {first['msg']} ({err.error_count()} error(s))") from None
    return Tariff(spec, hashlib.sha256(text).hexdigest())


def local_time(value: str) -> time:
    """'HH:MM' as a time (for display)."""
    minutes = _clock(value)
    return time(minutes // 60 % 24, minutes % 60)
