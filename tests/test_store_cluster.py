"""Migrations ON CLUSTER (ALPR_CLICKHOUSE_CLUSTER): every statement the migrator, the audit
retention and the hold keeper would send to a cluster is parsed by the real ClickHouse engine
(chDB's `formatQuery`), and without a cluster the statements are exactly the plain ones.

No ClickHouse cluster (Keeper, remote_servers, several servers) runs here: what these tests
prove is the DDL's shape and syntax, not its execution (docs/architecture.md says so)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from alpr.contracts.models import Hold
from alpr.errors import ConfigError
from alpr.holds import HoldKeeper
from alpr.store.cluster import EVERY_NODE, cluster_statements
from alpr.store.migrate import load_migrations, migrate, record_table_statements, services_with_migrations

pytestmark = pytest.mark.clickhouse

CLUSTER = "alpr_cluster"


class ClusterRecorder:
    """Stands where a server store on a cluster would: it keeps the statements sent to it and
    answers that nothing is applied or held yet (what a fresh cluster answers)."""

    def __init__(self, database: str, cluster: str | None = CLUSTER) -> None:
        self.database, self.cluster = database, cluster
        self.statements: list[str] = []
        self.params: list[dict] = []

    def command(self, sql, params=None):
        self.statements.append(sql)
        self.params.append(params or {})

    def query(self, sql, params=None):
        return []

    def insert(self, table, rows):
        return len(rows)

    def close(self):
        pass


@pytest.fixture
def engine(tmp_path):
    from alpr.store import open_store

    store = open_store("ddl", clickhouse_url=None, data_dir=tmp_path)
    yield store
    store.close()


def formatted(engine, sql: str) -> str:
    """The engine's own rendering of `sql`; a statement it cannot parse fails the test here.
    (The store passes the text as written: alpr.store.embedded escapes query parameters.)"""
    return engine.query("SELECT formatQuery({q:String}) AS f", {"q": sql})[0]["f"]


def sent_to_a_cluster(service: str) -> list[str]:
    from alpr.store.migrate import migrate_service
    from services.audit.settings import AuditSettings

    store = ClusterRecorder(service)
    migrate_service(service, store, AuditSettings(environment="test") if service == "audit" else None)
    return store.statements


def test_without_a_cluster_the_statements_are_the_plain_ones():
    for service in services_with_migrations():
        for m in load_migrations(service):
            text = m.sql.replace("{database}", service)
            body = "\n".join(l for l in text.splitlines() if not l.strip().startswith("--"))
            plain = [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]
            assert m.statements(service) == m.statements(service, None) == plain
        assert record_table_statements(service) == [
            f"CREATE TABLE IF NOT EXISTS {service}.schema_migrations "
            "(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
            "ENGINE = MergeTree ORDER BY version"
        ]
    plain = ClusterRecorder("occupancy", cluster=None)
    migrate(plain, "occupancy")
    assert not any("ON CLUSTER" in s or "Replicated" in s or "Distributed" in s for s in plain.statements)


@pytest.mark.parametrize("service", services_with_migrations())
def test_cluster_migrations_are_replicated_distributed_and_parse(engine, service):
    statements = sent_to_a_cluster(service)
    rendered = [formatted(engine, s) for s in statements]
    assert all(f"ON CLUSTER {CLUSTER}" in r for r in rendered), [r for r in rendered if "ON CLUSTER" not in r]
    assert rendered[0] == f"CREATE DATABASE IF NOT EXISTS {service} ON CLUSTER {CLUSTER}"

    creates = {m.group(1): r for r in rendered if (m := re.match(rf"CREATE TABLE IF NOT EXISTS {service}\.(\w+) ", r))}
    plain_tables = {
        m.group(1)
        for mig in load_migrations(service)
        for s in mig.statements(service)
        if (m := re.match(rf"CREATE TABLE IF NOT EXISTS {service}\.(\w+)", s))
    } | {"schema_migrations"}
    for table in plain_tables:
        if table in EVERY_NODE:
            # A whole copy on every node: one replication path for the cluster, no Distributed table.
            assert (
                "ENGINE = Replicated" in creates[table]
                and f"/clickhouse/tables/all/{service}/{table}'" in creates[table]
            )
            assert f"{table}_local" not in creates
            continue
        local, dist = creates[f"{table}_local"], creates[table]
        assert re.search(
            rf"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/\{{shard\}}/{service}/{table}_local', "
            r"'\{replica\}'",
            local,
        ), local
        assert f"AS {service}.{table}_local" in dist
        assert re.search(rf"ENGINE = Distributed\({CLUSTER}|ENGINE = Distributed\('{CLUSTER}'", dist), dist
        assert f"'{table}_local', cityHash64(" in dist
        # The sorting key decides the shard: all versions of a row meet on one shard, where FINAL folds them.
        order_by = re.search(r"ORDER BY \(?(.+?)\)?\n", local).group(1)
        assert f"cityHash64({order_by})" in dist.replace("\n", " "), (order_by, dist)
        if service != "audit":
            # Policy section 10 stays in the table definition: the 365-day purge of unheld rows.
            assert re.search(r"TTL toDateTime\(\w+\) \+ toIntervalDay\(365\) WHERE held = 0", local), local


def test_cluster_keeps_each_plain_table_and_column_change(engine):
    """Every plain CREATE has its local (or every-node) table on the cluster, and every column
    added later reaches both the stored rows and the Distributed table that reads them."""
    rendered = [formatted(engine, s) for s in sent_to_a_cluster("revenue")]
    for column in ("patrol_pass_ids", "plate_key", "entry_confidence", "exit_confidence"):
        assert sum(f"ADD COLUMN IF NOT EXISTS `{column}`" in r for r in rendered) == 2
        assert any(r.startswith("ALTER TABLE revenue.sessions_local ON CLUSTER") and column in r for r in rendered)
        assert any(r.startswith("ALTER TABLE revenue.sessions ON CLUSTER") and column in r for r in rendered)


def test_audit_retention_and_holds_change_the_stored_rows_on_every_node(engine):
    audit = [formatted(engine, s) for s in sent_to_a_cluster("audit")]
    assert audit[-1].startswith(f"ALTER TABLE audit.audit_log_local ON CLUSTER {CLUSTER}") and "MODIFY TTL" in audit[-1]

    from services.occupancy.main import HELD_TABLES

    store = ClusterRecorder("occupancy")
    keeper = HoldKeeper(store, HELD_TABLES)
    at = datetime(2026, 11, 26, 9, tzinfo=UTC)
    keeper.apply(
        Hold(
            hold_id="h1",
            action="place",
            basis="subpoena",
            case_ref="C-1",
            plates=["8ABC123"],
            time_from=at.replace(month=1),
            time_to=at,
            by="pm",
            at=at,
        )
    )
    mutations = [formatted(engine, s) for s in store.statements]
    assert {m.split(" ON CLUSTER")[0] for m in mutations} == {"ALTER TABLE occupancy.passes_local"}
    assert all("UPDATE held = 1" in m and "mutations_sync = 2" in m for m in mutations)


def test_a_cluster_needs_a_server(monkeypatch):
    from alpr.errors import StoreError
    from alpr.settings import CommonSettings, load_settings
    from alpr.store import open_store

    monkeypatch.setenv("ALPR_CLICKHOUSE_CLUSTER", CLUSTER)
    with pytest.raises(ConfigError, match="clickhouse_cluster needs clickhouse_url"):
        load_settings(CommonSettings)
    monkeypatch.setenv("ALPR_CLICKHOUSE_URL", "http://ch:8123")
    assert load_settings(CommonSettings).clickhouse_cluster == CLUSTER
    with pytest.raises(StoreError, match="embedded chDB has no cluster"):
        open_store("occupancy", clickhouse_url=None, data_dir="/nonexistent", cluster=CLUSTER)


def test_a_statement_without_a_cluster_form_is_refused():
    with pytest.raises(ValueError, match="no cluster form"):
        cluster_statements("DROP TABLE occupancy.passes", CLUSTER)
    assert cluster_statements("DROP TABLE occupancy.passes", None) == ["DROP TABLE occupancy.passes"]
