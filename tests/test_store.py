"""The ClickHouse store on the real engine: migrations, the 365-day TTL with legal holds, locking, parameters."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from alpr.errors import StoreError
from alpr.store.migrate import load_migrations, migrate, services_with_migrations
from alpr.store.retention import alpr_tables

pytestmark = pytest.mark.clickhouse

NOW = datetime.now(UTC)


def test_migrations_apply_once_and_refuse_edited_files(store_factory, monkeypatch):
    store = store_factory("occupancy")
    assert migrate(store, "occupancy") == ["001_passes_and_history", "002_holds"]
    assert migrate(store, "occupancy") == []
    original = load_migrations("occupancy")
    edited = [type(m)(m.version, m.name, m.sql + "\n-- edited") for m in original]
    monkeypatch.setattr("alpr.store.migrate.load_migrations", lambda service: edited)
    with pytest.raises(StoreError, match="forward-only"):
        migrate(store, "occupancy")


@pytest.mark.parametrize("service", [s for s in services_with_migrations() if s != "audit"])
def test_every_alpr_table_purges_after_365_days_except_held_rows(store_factory, service):
    store = store_factory(service)
    migrate(store, service)
    tables = alpr_tables(store)
    assert tables, f"{service} creates no ALPR data table with the 365-day TTL"
    for table, time_column in tables.items():
        columns = store.query(
            "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
            {"db": store.database, "t": table},
        )
        strings = [c["name"] for c in columns if c["type"] in ("String", "LowCardinality(String)")]
        assert "held" in {c["name"] for c in columns}
        cases = {
            "old-unheld": (NOW - timedelta(days=400), 0),
            "old-held": (NOW - timedelta(days=400), 1),
            "young-unheld": (NOW - timedelta(days=30), 0),
            "edge-unheld": (NOW - timedelta(days=364), 0),
        }
        rows = []
        for marker, (at, held) in cases.items():
            row = {c: marker for c in strings}
            row.update({time_column: at, "held": held})
            rows.append(row)
        store.insert(table, rows)
        store.command(f"OPTIMIZE TABLE {store.database}.{table} FINAL")
        key = strings[0]
        left = {r[key] for r in store.query(f"SELECT {key} FROM {store.database}.{table}")}
        assert left == {"old-held", "young-unheld", "edge-unheld"}, f"{table}: {left}"

        # Releasing the hold lets the next TTL merge purge the row.
        store.command(
            f"ALTER TABLE {store.database}.{table} UPDATE held = 0 WHERE held = 1 SETTINGS mutations_sync = 1"
        )
        store.command(f"OPTIMIZE TABLE {store.database}.{table} FINAL")
        left = {r[key] for r in store.query(f"SELECT {key} FROM {store.database}.{table}")}
        assert left == {"young-unheld", "edge-unheld"}, f"{table} after release: {left}"


def test_audit_log_retention_comes_from_settings(store_factory):
    from alpr.store.migrate import set_retention

    store = store_factory("audit")
    migrate(store, "audit")
    set_retention(store, "audit_log", "at", 400)
    query = store.query(
        "SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = 'audit_log'",
        {"db": store.database},
    )[0]["q"]
    assert re.search(r"TTL toDateTime\(at\) \+ (INTERVAL 400 DAY|toIntervalDay\(400\))", query)
    store.insert(
        "audit_log",
        [
            {"event_id": "e1", "at": NOW - timedelta(days=401), "user": "u", "outcome": "allowed"},
            {"event_id": "e2", "at": NOW - timedelta(days=10), "user": "u", "outcome": "allowed"},
        ],
    )
    store.command(f"OPTIMIZE TABLE {store.database}.audit_log FINAL")
    assert [r["event_id"] for r in store.query(f"SELECT event_id FROM {store.database}.audit_log")] == ["e2"]
    with pytest.raises(StoreError):
        set_retention(store, "audit_log", "at", 0)


def test_filter_values_are_parameters_not_sql(store_factory):
    store = store_factory("occupancy")
    migrate(store, "occupancy")
    store.insert(
        "passes", [{"pass_id": "p1", "plate": "8ABC123", "first_seen": NOW, "last_seen": NOW, "direction": "entry"}]
    )
    hostile = "8ABC123' OR '1'='1"
    assert (
        store.query(f"SELECT pass_id FROM {store.database}.passes WHERE plate = {{plate:String}}", {"plate": hostile})
        == []
    )
    assert (
        len(
            store.query(
                f"SELECT pass_id FROM {store.database}.passes WHERE plate = {{plate:String}}", {"plate": "8ABC123"}
            )
        )
        == 1
    )


def test_second_process_on_a_chdb_directory_gets_a_clear_error(tmp_path):
    from alpr.store import open_store

    store = open_store("occupancy", clickhouse_url=None, data_dir=tmp_path)
    try:
        code = (
            "import sys; from alpr.store import open_store\n"
            "from alpr.errors import StoreError\n"
            f"try: open_store('occupancy', clickhouse_url=None, data_dir={str(tmp_path)!r})\n"
            "except StoreError as e: print(e); sys.exit(3)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 3, proc.stderr
        assert "in use by pid" in proc.stdout and "one process per directory" in proc.stdout
    finally:
        store.close()
    # Released on close: the directory opens again.
    open_store("occupancy", clickhouse_url=None, data_dir=tmp_path).close()


def test_retention_report_shows_the_purge_and_flags_late_rows(store_factory):
    from alpr.store.retention import retention_report

    store = store_factory("revenue")
    migrate(store, "revenue")
    store.command(f"SYSTEM STOP TTL MERGES {store.database}.sessions")
    store.insert(
        "sessions",
        [
            {"session_id": "old", "entry_at": NOW - timedelta(days=400)},
            {"session_id": "held", "entry_at": NOW - timedelta(days=400), "held": 1},
            {"session_id": "new", "entry_at": NOW - timedelta(days=3)},
        ],
    )
    by_table = {t.table: t for t in retention_report(store)}
    assert set(by_table) == {"sessions", "payments", "matches", "violations", "passes", "reviews", "evidence_custody"}
    s = by_table["sessions"]
    assert (s.rows, s.past_365_days, s.held, s.overdue, s.ok) == (3, 2, 1, 1, False)
    store.command(f"SYSTEM START TTL MERGES {store.database}.sessions")
    store.command(f"OPTIMIZE TABLE {store.database}.sessions FINAL")
    s = {t.table: t for t in retention_report(store)}["sessions"]
    assert (s.rows, s.past_365_days, s.held, s.overdue, s.ok) == (2, 1, 1, 0, True)


def test_one_process_serves_one_chdb_directory(tmp_path):
    from alpr.store import open_store

    first = open_store("occupancy", clickhouse_url=None, data_dir=tmp_path)
    try:
        second_db = open_store("occupancy", clickhouse_url=None, data_dir=tmp_path, database="other")
        second_db.close()  # same directory, another database: shared engine
        with pytest.raises(StoreError, match="one data directory per process"):
            open_store("revenue", clickhouse_url=None, data_dir=tmp_path)
    finally:
        first.close()


def test_a_text_parameter_arrives_as_written(store_factory):
    """Parameters are read in ClickHouse's escaped format: a backslash, tab or newline in a
    value (a note, a case reference) must arrive as written, not as an escape sequence."""
    store = store_factory("occupancy")
    for text in ["C:\\cases\\26-CV-1", "line one\nline two", "tab\there", "it's", "back\\nslash-n", ""]:
        assert store.query("SELECT {t:String} AS t", {"t": text}) == [{"t": text}], repr(text)
