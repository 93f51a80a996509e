"""chDB: the ClickHouse engine inside the service's own process (the embedded default).

chDB lets one process open a data directory at a time and, when a second one tries, fails
with an opaque "Error initializing EmbeddedServer". We take an exclusive `flock` on a lock
file first, so the second process gets a sentence naming the directory and the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alpr.errors import StoreError
from alpr.store.rows import to_json_each_row

LOCK_NAME = ".alpr-store.lock"


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return _param_text(value)


# ClickHouse reads a query parameter's text in its "escaped" format: a backslash starts an
# escape sequence and a raw newline or tab ends the value. Written so, a text arrives as it was.
_ESCAPED = str.maketrans({"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"})


def _param_text(value: Any) -> str:
    """chDB takes query parameters as text in ClickHouse's literal syntax (clickhouse-connect
    formats them itself); arrays become ['a','b'], times 'YYYY-MM-DD hh:mm:ss.fff' in UTC, a
    text its escaped form."""
    if isinstance(value, str):
        return value.translate(_ESCAPED)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ",".join(_quote(v) for v in value) + "]"
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class _Engine:
    """The process's one chDB engine: chDB serves a single data directory per process, so
    every ChdbStore of the process shares it (one lock, one session, a reference count)."""

    current: _Engine | None = None
    guard = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.users = 0
        self.mutex = threading.Lock()  # chDB sessions are not for concurrent use across threads
        self.lock_file = _acquire_lock(path)
        try:
            from chdb import session

            self.session = session.Session(str(path))
        except Exception as err:  # pragma: no cover - depends on chDB internals
            _release_lock(self.lock_file)
            raise StoreError(f"cannot open chDB at {path}: {err}") from err

    @classmethod
    def acquire(cls, path: Path) -> _Engine:
        with cls.guard:
            if cls.current is None:
                cls.current = _Engine(path)
            elif cls.current.path != path:
                raise StoreError(
                    f"this process already serves chDB directory {cls.current.path}; chDB allows one data "
                    f"directory per process, so {path} needs its own process (or use ALPR_CLICKHOUSE_URL)"
                )
            cls.current.users += 1
            return cls.current

    @classmethod
    def reset(cls) -> bool:
        """Close the process's engine whoever still holds it (test isolation); True if one was open."""
        with cls.guard:
            engine, cls.current = cls.current, None
        if engine is None:
            return False
        try:
            engine.session.close()
        finally:
            _release_lock(engine.lock_file)
        return True

    def release(self) -> None:
        with _Engine.guard:
            self.users -= 1
            if self.users == 0:
                try:
                    self.session.close()
                finally:
                    _release_lock(self.lock_file)
                    _Engine.current = None


def _acquire_lock(path: Path):
    lock_path = path / LOCK_NAME
    handle = open(lock_path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StoreError(
            f"chDB data directory {path} is in use by {holder}; chDB allows one "
            "process per directory: stop that process, give this one its own "
            "ALPR_DATA_DIR, or configure ALPR_CLICKHOUSE_URL for a shared server"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def _release_lock(handle) -> None:
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


class ChdbStore:
    """A database in the process's chDB engine. Several databases (stores) may share the
    engine when they live in the same data directory."""

    def __init__(self, path: Path, database: str) -> None:
        self.path = Path(path).resolve()
        self.database = database
        self.cluster: str | None = None  # an embedded engine is never part of a cluster
        self.path.mkdir(parents=True, exist_ok=True)
        self._engine: _Engine | None = _Engine.acquire(self.path)
        self._run(f"CREATE DATABASE IF NOT EXISTS {database}", "CSV", None)

    def _run(self, sql: str, fmt: str, params: dict[str, Any] | None) -> str:
        params = {k: _param_text(v) for k, v in params.items()} if params else None
        if self._engine is None:
            raise StoreError("store is closed")
        with self._engine.mutex:
            try:
                result = self._engine.session.query(sql, fmt, params=params)
            except Exception as err:
                raise StoreError(f"chDB query failed: {err}") from err
        return result.bytes().decode() if hasattr(result, "bytes") else str(result)

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._run(sql, "CSV", params)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        text = self._run(sql, "JSONEachRow", params)
        return [json.loads(line) for line in text.splitlines() if line]

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        if not rows:
            return 0
        # chDB has no separate insert channel; JSONEachRow inline is its fast path
        # (blueprint: 100k rows in ~0.1 s).
        self._run(
            f"INSERT INTO {self.database}.{table} FORMAT JSONEachRow\n" + to_json_each_row(rows),
            "CSV",
            None,
        )
        return len(rows)

    def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.release()
