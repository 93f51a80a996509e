"""Payments in: validate pay-by-plate, pay-station, permit and validation records, and publish them.

Three doors lead to alpr.payments.v1: finance systems publishing directly, the
authenticated HTTP endpoint, and `alpr revenue import-payments FILE` (CSV). The last two
validate every record here first and answer per record: accepted, or refused with the
reason (unknown facility, negative amount, malformed plate, a time in the future, a value
of the wrong type); the good ones are published and the answer waits for the broker's
acknowledgement. The matcher applies the same `PaymentCheck` to what finance publishes
directly and sends a refused message to alpr.payments.dlq with the reason.

Published with key = plate and the platform's one partitioner (murmur2, the Java client's
default: alpr.kafka.config.producer_config), so the topic is partitioned the same whoever writes it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Producer
from pydantic import ValidationError

from alpr.contracts.models import Payment
from alpr.contracts.registry import encode
from alpr.kafka.config import producer_config
from alpr.plates import normalize

CSV_COLUMNS = (
    "payment_id",
    "kind",
    "facility_id",
    "plate",
    "amount_cents",
    "paid_at",
    "valid_from",
    "valid_until",
    "permit_type",
    "source",
)


class PaymentRefused(ValueError):
    """A payment record that must not be published (the message is the reason)."""


@dataclass(frozen=True)
class PaymentCheck:
    """The rules beyond the contract: a known facility, a plausible clock, a sane validity."""

    facilities: frozenset[str]
    max_skew: timedelta = timedelta(minutes=5)

    def check(self, p: Payment, now: datetime | None = None) -> Payment:
        now = now or datetime.now(UTC)
        if p.facility_id != "*" and p.facility_id not in self.facilities:
            raise PaymentRefused(f"unknown facility {p.facility_id!r}")
        if p.facility_id == "*" and p.kind != "permit":
            raise PaymentRefused("only a permit may be valid in every facility ('*')")
        for name in ("paid_at", "valid_from"):
            if getattr(p, name) > now + self.max_skew:
                raise PaymentRefused(f"{name} {getattr(p, name).isoformat()} is in the future")
        if p.valid_until < p.valid_from:
            raise PaymentRefused("valid_until is before valid_from")
        if p.kind == "permit" and not p.permit_type:
            raise PaymentRefused("a permit needs a permit_type")
        return p


def parse_payment(data: dict[str, Any], source: str) -> Payment:
    """A loosely typed record (JSON body, CSV row) -> Payment, or PaymentRefused with one clear reason."""
    data = {k: v for k, v in data.items() if v not in (None, "")}
    data.setdefault("source", source)
    plate = data.get("plate")
    if isinstance(plate, str):
        data["plate"] = normalize(plate)
        if not data["plate"] or len(data["plate"]) > 10:
            raise PaymentRefused(f"plate {plate!r} is not a plate (1-10 letters and digits)")
    if "valid_from" not in data and "paid_at" in data:
        data["valid_from"] = data["paid_at"]
    if "valid_until" not in data and "valid_from" in data:
        data["valid_until"] = data["valid_from"]
    amount = data.get("amount_cents")
    if isinstance(amount, str):
        try:
            data["amount_cents"] = int(amount)
        except ValueError:
            raise PaymentRefused(f"amount_cents {amount!r} is not a whole number of cents") from None
    if isinstance(data.get("amount_cents"), int) and data["amount_cents"] < 0:
        raise PaymentRefused(f"amount_cents {data['amount_cents']} is negative")
    try:
        return Payment.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payment"
        value = first.get("input")
        shown = f" ({value!r})" if isinstance(value, (str, int, float)) and where != "payment" else ""
        raise PaymentRefused(f"{where}{shown}: {first['msg']}") from None


@dataclass
class RowResult:
    """The answer for one record: accepted (published) or refused with the reason."""

    row: int
    payment_id: str
    accepted: bool
    reason: str = ""


def read_csv(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """Rows of a payments CSV (header required); unknown or missing columns are an error for the file."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = sorted(set(header) - set(CSV_COLUMNS))
    missing = [c for c in ("payment_id", "kind", "facility_id", "plate", "paid_at") if c not in header]
    problems = ([f"unknown column(s) {', '.join(unknown)}"] if unknown else []) + (
        [f"missing column(s) {', '.join(missing)}"] if missing else []
    )
    return list(reader), problems


class PaymentPublisher:
    """Validates and publishes payment records, answering per record after the broker acknowledged."""

    def __init__(self, bootstrap: str, topic: str, check: PaymentCheck, timeout_s: float = 15.0) -> None:
        self.topic = topic
        self.check = check
        self.timeout_s = timeout_s
        self._producer = Producer(
            producer_config(
                bootstrap,
                "revenue-payments",
                **{"message.timeout.ms": int(timeout_s * 1000)},
            )
        )

    def publish(self, records: Iterable[dict[str, Any]], source: str) -> list[RowResult]:
        results: list[RowResult] = []
        pending: dict[int, RowResult] = {}
        for n, record in enumerate(records, start=1):
            result = RowResult(n, str(record.get("payment_id") or ""), False)
            results.append(result)
            try:
                payment = self.check.check(parse_payment(record, source))
            except PaymentRefused as err:
                result.reason = str(err)
                continue
            result.payment_id = payment.payment_id

            def delivered(err, msg, result=result) -> None:
                result.accepted = err is None
                result.reason = "" if err is None else f"not published: {err.str()}"

            result.reason = "not acknowledged by the broker"
            pending[n] = result
            self._producer.produce(self.topic, key=payment.plate.encode(), value=encode(payment), on_delivery=delivered)
            self._producer.poll(0)
        self._producer.flush(self.timeout_s)
        return results


__all__ = ["PaymentCheck", "PaymentPublisher", "PaymentRefused", "RowResult", "parse_payment", "read_csv"]
