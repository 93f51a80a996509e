"""The store interface every service writes and queries through.

Both backends speak ClickHouse SQL with server-side parameters (`{name:Type}`), so a
filter value is never spliced into SQL text: plates with quotes are just strings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from alpr.errors import StoreError


class Store(Protocol):
    """A ClickHouse database owned by one service."""

    database: str
    cluster: str | None  # a ClickHouse cluster's name: migrations run ON CLUSTER (alpr.store.cluster)

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, OPTIMIZE, ALTER)."""

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT and return its rows as dicts."""

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows (dicts keyed by column) into `database.table`; returns the count."""

    def close(self) -> None:
        """Release the connection (and, for chDB, the data directory lock)."""


class LazyStore:
    """A store opened by its first query. tests/test_routes.py builds every service's app in one
    process, and chDB serves one data directory per process, so an app must not open its store
    before a request needs it."""

    def __init__(self, database: str, opener: Callable[[], Store], cluster: str | None = None) -> None:
        self.database = database
        self.cluster = cluster
        self._opener = opener
        self._store: Store | None = None

    def _open(self) -> Store:
        if self._store is None:
            self._store = self._opener()
        return self._store

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        return self._open().command(sql, params)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._open().query(sql, params)

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        return self._open().insert(table, rows)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def open_store(
    service: str,
    *,
    clickhouse_url: str | None,
    data_dir: Path,
    database: str | None = None,
    cluster: str | None = None,
) -> Store:
    """Open the store of `service`: a ClickHouse server when a URL is given, else chDB.

    The database defaults to the service name: each service owns its tables (blueprint:
    database per service), which also keeps chDB's one-process-per-directory rule workable.
    `cluster` (a server's cluster name) makes migrations run ON CLUSTER; chDB has none.
    """
    database = database or service
    if not database.isidentifier():
        raise StoreError(f"database name {database!r} is not a plain identifier")
    if clickhouse_url:
        from alpr.store.server import ClickHouseServerStore

        return ClickHouseServerStore(clickhouse_url, database, cluster=cluster)
    if cluster:
        raise StoreError("a ClickHouse cluster needs a server (ALPR_CLICKHOUSE_URL); embedded chDB has no cluster")
    from alpr.store.embedded import ChdbStore

    return ChdbStore(Path(data_dir) / "chdb" / service, database)
