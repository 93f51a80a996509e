"""Row encoding shared by both backends: Python values to JSONEachRow lines."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Sequence
from uuid import UUID


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        # ClickHouse parses 'YYYY-MM-DD hh:mm:ss.fff' in the column's time zone (UTC here);
        # naive datetimes are taken as UTC, aware ones converted.
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="milliseconds")
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
    return "\n".join(json.dumps(r, default=_default, ensure_ascii=False) for r in rows)
