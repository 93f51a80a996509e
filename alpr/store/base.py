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
    login: tuple[str, str] | None = None,
    create_database: bool = True,
    ca_file: Path | None = None,
) -> Store:
    """Open the store of `service`: a ClickHouse server when a URL is given, else chDB.

    The database defaults to the service name: each service owns its tables (blueprint:
    database per service), which also keeps chDB's one-process-per-directory rule workable.
    `cluster` (a server's cluster name) makes migrations run ON CLUSTER; chDB has none.
    `login` (user, password) replaces the URL's own; a least-privilege login cannot create
    databases (`create_database=False`: the migrator made it).
    """
    database = database or service
    if not database.isidentifier():
        raise StoreError(f"database name {database!r} is not a plain identifier")
    if clickhouse_url:
        from alpr.store.server import ClickHouseServerStore

        return ClickHouseServerStore(
            clickhouse_url, database, cluster=cluster, login=login, create_database=create_database, ca_file=ca_file
        )
    if cluster:
        raise StoreError("a ClickHouse cluster needs a server (ALPR_CLICKHOUSE_URL); embedded chDB has no cluster")
    from alpr.store.embedded import ChdbStore

    return ChdbStore(Path(data_dir) / "chdb" / service, database)


def open_service_store(service: str, settings, purpose: str = "write") -> Store:
    """The store of `service` as its settings configure it: chDB, or the server with the
    service's own login for `purpose` ("write": its consumers, or the migrator for `alpr db
    migrate`; "api": the read-only login of its API)."""
    login = settings.clickhouse_login(purpose) if settings.clickhouse_url else None
    return open_store(
        service,
        clickhouse_url=settings.clickhouse_url,
        data_dir=settings.data_dir,
        cluster=settings.clickhouse_cluster,
        login=login,
        create_database=login is None,
        ca_file=settings.clickhouse_ca_file,
    )


def open_api_store(service: str, settings, store: Store) -> Store:
    """What the service's API reads through: the writer's store itself with chDB (one process
    per directory) or without a separate API login; else a second, read-only connection."""
    if not settings.clickhouse_url or not settings.clickhouse_api_user:
        return store
    return open_service_store(service, settings, "api")
