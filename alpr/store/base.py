"""The store interface every service writes and queries through.

Both backends speak ClickHouse SQL with server-side parameters (`{name:Type}`), so a
filter value is never spliced into SQL text: plates with quotes are just strings.
"""

from __future__ import annotations

from collections.abc import Sequence
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
