"""Structured logs: one JSON object per line, with the service name and any `extra` ids.

Every line passes `without_credentials`: a camera URL quoted in a message, an `extra` field or a
traceback never carries its password into the logs.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from alpr.redact import without_credentials

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Fields passed as logging `extra=` (topic, frame_id, read_id, ...) become keys.
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return without_credentials(json.dumps(entry, default=str)) or ""


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
