"""Row encoding shared by both backends: Python values to JSONEachRow lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        # ClickHouse parses 'YYYY-MM-DD hh:mm:ss.fff' in the column's time zone (UTC here);
        # naive datetimes are taken as UTC, aware ones converted.
        if value.tzinfo is not None and value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal,)):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    # Bytes are refused on purpose: JSON would re-encode them; store images base64-encoded.
    raise TypeError(f"cannot store a {type(value).__name__} value in a row")


def to_json_each_row(rows: Sequence[dict[str, Any]]) -> str:
    # One encoder for the batch; ASCII escapes are valid JSON for ClickHouse and faster to build.
    encode = json.JSONEncoder(default=_default, separators=(",", ":")).encode
    return "\n".join(map(encode, rows))
