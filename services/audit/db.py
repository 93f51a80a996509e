"""The governance service's transactional store: SQLite by default, PostgreSQL when configured.

Users, authorizations, training, revoked tokens, holds and releases are few rows that must
change atomically (a lockout counter, a release decided once), which is what a relational
store is for; ClickHouse keeps the audit log. SQL here is the common subset of both engines
(`?` placeholders are translated for psycopg; `ON CONFLICT`, `RETURNING`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alpr.errors import StoreError


class GovernanceDB:
    def __init__(self, url: str, password: str | None = None) -> None:
        """`password` (PostgreSQL: from a password file, `AuditSettings.governance_db`) replaces
        the URL's own, so that no credential sits in a URL a log line or an error could show."""
        self.url = url
        self._lock = threading.RLock()
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///") :])
            path.parent.mkdir(parents=True, exist_ok=True)
            self.kind = "sqlite"
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA busy_timeout=5000")
        elif url.startswith(("postgresql://", "postgres://")):
            import psycopg
            from psycopg.rows import dict_row

            self.kind = "postgresql"
            try:
                login = {"password": password} if password is not None else {}
                self._conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=5, **login)
            except psycopg.OperationalError as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else "connection failed"
                raise StoreError(f"cannot reach the governance database: {first}") from None
        else:
            from alpr.redact import without_credentials

            raise StoreError(
                f"governance database URL must be sqlite:///path or postgresql://…, got {without_credentials(url)!r}"
            )

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.kind == "postgresql" else sql

    def execute(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._conn.execute(self._sql(sql), params)
            rows = cur.fetchall() if cur.description else []
        return [dict(r) for r in rows]

    def one(self, sql: str, params: tuple = ()) -> dict[str, Any] | None:
        rows = self.execute(sql, params)
        return rows[0] if rows else None

    def script(self, statements: str) -> None:
        for statement in (s.strip() for s in statements.split(";")):
            if statement:
                self.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[GovernanceDB]:
        """All statements inside run atomically (and, in SQLite, with the write lock held)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE" if self.kind == "sqlite" else "BEGIN")
            try:
                yield self
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._conn.close()
