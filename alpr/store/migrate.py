"""Forward-only, numbered ClickHouse migrations per service (`alpr db migrate`).

Files live in schemas/clickhouse/<service>/NNN_name.sql. Each applied file is recorded with
its checksum in <database>.schema_migrations; re-running applies only new files, and a file
that changed after it was applied stops the migration with a clear error (write a new file).

On a ClickHouse cluster (`ALPR_CLICKHOUSE_CLUSTER`) the same files run as Replicated tables
`ON CLUSTER` with Distributed tables for reads (`alpr.store.cluster`); the checksums are those
of the files, so a migration's record does not depend on where it ran.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from alpr.errors import StoreError
from alpr.store.base import Store
from alpr.store.cluster import cluster_statements, quote, stored_table

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"
FILE_PATTERN = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self, database: str, cluster: str | None = None) -> list[str]:
        """The statements to run, for one server (or chDB), or `ON CLUSTER` for `cluster`."""
        text = self.sql.replace("{database}", database)
        # Drop comment lines, then split on ';' at line ends.
        body = "\n".join(l for l in text.splitlines() if not l.strip().startswith("--"))
        plain = [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]
        return [out for s in plain for out in cluster_statements(s, cluster)]


def services_with_migrations() -> list[str]:
    return sorted(p.name for p in MIGRATIONS_DIR.iterdir() if p.is_dir())


def load_migrations(service: str) -> list[Migration]:
    folder = MIGRATIONS_DIR / service
    if not folder.is_dir():
        raise StoreError(f"no migrations for service {service!r} in {MIGRATIONS_DIR}")
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if not match:
            raise StoreError(f"migration file {path.name} must be named NNN_lowercase_name.sql")
        found.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"{service}: two migrations share a number")
    return found


def record_table_statements(database: str, cluster: str | None = None) -> list[str]:
    """The table that records applied migrations (on a cluster: a full copy on every node)."""
    statements = [] if not cluster else [f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {quote(cluster)}"]
    return statements + cluster_statements(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY version",
        cluster,
    )


def migrate(store: Store, service: str) -> list[str]:
    """Apply pending migrations of `service` to `store`; returns the names applied."""
    db = store.database
    cluster = getattr(store, "cluster", None)
    for statement in record_table_statements(db, cluster):
        store.command(statement)
    applied = {r["version"]: r for r in store.query(f"SELECT version, name, checksum FROM {db}.schema_migrations")}
    done = []
    for m in load_migrations(service):
        if m.version in applied:
            if applied[m.version]["checksum"] != m.checksum:
                raise StoreError(
                    f"{service} migration {m.name} changed after it was applied; migrations are forward-only: add a new file"
                )
            continue
        for statement in m.statements(db, cluster):
            store.command(statement)
        store.insert("schema_migrations", [{"version": m.version, "name": m.name, "checksum": m.checksum}])
        done.append(m.name)
    return done


def set_retention(store: Store, table: str, time_column: str, days: int, where: str | None = None) -> None:
    """Apply a retention that comes from settings rather than from a migration file."""
    if days < 1:
        raise StoreError(f"retention of {table} must be at least one day, got {days}")
    condition = f" WHERE {where}" if where else ""
    target = stored_table(store.database, table, getattr(store, "cluster", None))
    store.command(
        f"ALTER TABLE {target} MODIFY TTL toDateTime({time_column}) + INTERVAL {int(days)} DAY DELETE{condition}"
    )


def migrate_service(service: str, store, settings) -> list[str]:
    """Apply a service's migration files, then the retention that comes from its settings
    (the audit log's `audit_retention_days`): the one way every service and `alpr db migrate`
    bring a store up to date."""
    applied = migrate(store, service)
    if service == "audit":
        set_retention(store, "audit_log", "at", settings.audit_retention_days)
    return applied


def require_migrated(service: str, store: Store) -> None:
    """A least-privilege login runs no DDL: check that `alpr db migrate` applied every file of
    `service`, unchanged, or say what to run."""
    try:
        rows = store.query(f"SELECT version, checksum FROM {store.database}.schema_migrations")
    except StoreError:
        rows = []
    applied = {r["version"]: r["checksum"] for r in rows}
    missing = [m.name for m in load_migrations(service) if applied.get(m.version) != m.checksum]
    if missing:
        raise StoreError(
            f"{service}: migrations not applied on the server: {', '.join(missing)}; "
            "run `alpr db migrate` with the migrator's login (ALPR_CLICKHOUSE_USER=alpr_migrate)"
        )


def prepare_service_store(service: str, store: Store, settings) -> list[str]:
    """At a service's start: with its own least-privilege login (a server, `*_CLICKHOUSE_USER`),
    check that the migrations ran; otherwise (chDB, or a development server on the URL's login)
    apply them, as before."""
    if settings.clickhouse_url and settings.clickhouse_user:
        require_migrated(service, store)
        return []
    return migrate_service(service, store, settings)
