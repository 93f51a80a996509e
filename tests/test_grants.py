"""ClickHouse users and grants (alpr.store.grants): generated from the migrations, least
privilege, and parsed by the real engine.

chDB runs without access management (its `default` user may not CREATE USER or GRANT), so the
statements cannot be executed here: each is parsed by ClickHouse's own parser
(`formatQuery`, which also rejects an unknown privilege), and every table granted is checked
against the tables the migrations really create in chDB. Executing them needs a server.
"""

from __future__ import annotations

import pytest

from alpr.errors import StoreError
from alpr.store import grants
from alpr.store.grants import Principal, principals, privileges, statements

pytestmark = pytest.mark.clickhouse

PASSWORDS = {p.user: f"pw-{p.user}-0123456789" for p in principals()}


def _sql_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_every_statement_parses_in_clickhouse():
    import chdb

    sql = statements(PASSWORDS, salt="00ff")
    assert len(sql) > 20
    for statement in sql + statements(PASSWORDS, cluster="alpr", salt="00ff"):
        formatted = chdb.query(f"SELECT formatQuery({_sql_literal(statement)})", "TSVRaw").bytes().decode().strip()
        assert formatted.split()[0] == statement.split()[0], statement
    # The parser is a real check: a misspelt privilege is refused.
    with pytest.raises(Exception, match="Syntax error"):
        chdb.query(f"SELECT formatQuery({_sql_literal('GRANT SELEC ON audit.audit_log TO `r`')})", "TSVRaw")


def test_grants_name_exactly_the_tables_the_migrations_create(tmp_path):
    from alpr.settings import CommonSettings
    from alpr.store import open_store
    from alpr.store.migrate import migrate_service, services_with_migrations

    settings = CommonSettings(data_dir=tmp_path, auth_secret="s" * 32, environment="test")
    settings.__dict__["audit_retention_days"] = 2555  # what AuditSettings adds; migrate_service reads it
    for service in services_with_migrations():
        store = open_store(service, clickhouse_url=None, data_dir=tmp_path / service)
        try:
            migrate_service(service, store, settings)
            real = {
                r["name"]
                for r in store.query("SELECT name FROM system.tables WHERE database = {db:String}", {"db": service})
            }
        finally:
            store.close()
        granted = {t.split(".")[1].strip("`") for _, t in privileges(Principal(f"alpr_{service}", service, "write"))}
        assert granted == real, service


def test_least_privilege():
    by_user = {p.user: p for p in principals()}
    assert set(by_user) == {
        "alpr_migrate",
        *(f"alpr_{s}{suffix}" for s in ("audit", "occupancy", "revenue") for suffix in ("", "_api")),
    }
    for p in by_user.values():
        granted = privileges(p)
        if p.purpose == "api":
            assert {priv for priv, _ in granted} == {"SELECT"}, p.user
        if p.purpose == "write":
            assert {priv for priv, _ in granted} <= {"SELECT", "INSERT", "ALTER UPDATE"}, p.user
            # only its own database
            assert {t.split(".")[0] for _, t in granted} == {f"`{p.service}`"}, p.user
    # The audit log is append-only: its writer may insert and read, nothing that mutates it.
    audit_log = [priv for priv, t in privileges(by_user["alpr_audit"]) if t == "`audit`.`audit_log`"]
    assert sorted(audit_log) == ["INSERT", "SELECT"]
    # Legal holds mark rows in the tables with a held column, and only there.
    occupancy = privileges(by_user["alpr_occupancy"])
    assert ("ALTER UPDATE", "`occupancy`.`passes`") in occupancy
    assert ("ALTER UPDATE", "`occupancy`.`holds`") not in occupancy
    # Services run no DDL: only the migrator creates and alters tables.
    assert all(
        priv not in ("CREATE TABLE", "ALTER")
        for p in by_user.values()
        if p.purpose != "migrate"
        for priv, _ in privileges(p)
    )


def test_statements_revoke_before_granting_and_never_hold_a_password():
    sql = statements(PASSWORDS, salt="00ff")
    text = "\n".join(sql)
    assert not any(pw in text for pw in PASSWORDS.values())
    role = "`alpr_audit_role`"
    mine = [s for s in sql if role in s and not s.startswith("CREATE USER")]
    assert mine[0].startswith("CREATE ROLE") and mine[1] == f"REVOKE ALL ON *.* FROM {role}"
    api_user = next(s for s in sql if s.startswith("CREATE USER OR REPLACE `alpr_occupancy_api`"))
    assert "SETTINGS readonly = 2" in api_user and "sha256_hash" in api_user
    # the hash is ClickHouse's: hex(sha256(password + salt))
    assert grants.password_hash("pw", "00ff") in "\n".join(statements({**PASSWORDS, "alpr_migrate": "pw"}, salt="00ff"))
    on_cluster = statements(PASSWORDS, cluster="alpr", salt="00ff")
    assert all(" ON CLUSTER `alpr`" in s for s in on_cluster)


def test_a_missing_or_short_password_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no password for ClickHouse user alpr_migrate"):
        statements({})
    assert sorted(grants.new_passwords(tmp_path)) == sorted(PASSWORDS)
    assert grants.new_passwords(tmp_path) == []  # existing files are kept
    assert (tmp_path / "alpr_audit").stat().st_mode & 0o777 == 0o600
    assert set(grants.read_passwords(tmp_path)) == set(PASSWORDS)
    (tmp_path / "alpr_audit").write_text("short")
    with pytest.raises(StoreError, match="at least 16 characters"):
        grants.read_passwords(tmp_path)


def test_a_service_with_its_own_login_runs_no_ddl_and_says_what_to_run(tmp_path):
    from alpr.settings import CommonSettings
    from alpr.store import open_store
    from alpr.store.migrate import migrate_service, require_migrated

    store = open_store("revenue", clickhouse_url=None, data_dir=tmp_path)
    try:
        with pytest.raises(StoreError, match=r"not applied on the server: 001_.*run `alpr db migrate`"):
            require_migrated("revenue", store)
        migrate_service("revenue", store, CommonSettings(data_dir=tmp_path, environment="test"))
        require_migrated("revenue", store)  # every file applied, unchanged
    finally:
        store.close()


def test_clickhouse_logins_come_from_files_and_production_requires_one(tmp_path, monkeypatch):
    from alpr.errors import ConfigError
    from alpr.settings import load_settings
    from services.occupancy.settings import OccupancySettings

    for name in [k for k in __import__("os").environ if k.startswith("ALPR_")]:
        monkeypatch.delenv(name)
    secret = tmp_path / "alpr_occupancy"
    secret.write_text("a-password-of-the-writer\n")
    api_secret = tmp_path / "alpr_occupancy_api"
    api_secret.write_text("a-password-of-the-reader\n")
    kafka_password = tmp_path / "kafka.secret"
    kafka_password.write_text("a-kafka-password-0123\n")
    monkeypatch.setenv("ALPR_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")  # production refuses PLAINTEXT
    monkeypatch.setenv("ALPR_KAFKA_USERNAME", "occupancy")
    monkeypatch.setenv("ALPR_KAFKA_PASSWORD_FILE", str(kafka_password))
    monkeypatch.setenv("ALPR_CLICKHOUSE_URL", "https://ch.example:8443")
    monkeypatch.setenv("ALPR_ENVIRONMENT", "production")
    monkeypatch.setenv("ALPR_AUTH_SECRET", "p" * 40)
    with pytest.raises(ConfigError, match="production needs a ClickHouse login"):
        load_settings(OccupancySettings)
    # Namespaced per service: one environment configures every service's own login.
    monkeypatch.setenv("ALPR_OCCUPANCY_CLICKHOUSE_USER", "alpr_occupancy")
    with pytest.raises(ConfigError, match="needs its password file"):
        load_settings(OccupancySettings)
    monkeypatch.setenv("ALPR_OCCUPANCY_CLICKHOUSE_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("ALPR_OCCUPANCY_CLICKHOUSE_API_USER", "alpr_occupancy_api")
    monkeypatch.setenv("ALPR_OCCUPANCY_CLICKHOUSE_API_PASSWORD_FILE", str(api_secret))
    settings = load_settings(OccupancySettings)
    assert settings.clickhouse_login() == ("alpr_occupancy", "a-password-of-the-writer")
    assert settings.clickhouse_login("api") == ("alpr_occupancy_api", "a-password-of-the-reader")
    assert "a-password" not in repr(settings)
    monkeypatch.setenv("ALPR_CLICKHOUSE_URL", "https://alpr:hunter2hunter2@ch.example:8443")
    with pytest.raises(ConfigError, match="URL carries a password") as refused:
        load_settings(OccupancySettings)
    assert "hunter2" not in str(refused.value)


def test_db_grants_command_prints_the_sql_and_keeps_passwords_in_files(tmp_path):
    from tests.conftest import run_cli

    folder = tmp_path / "secrets"
    done = run_cli("db", "grants", "--passwords", str(folder), "--make-passwords")
    assert done.returncode == 0, done.stderr
    assert "7 created" in done.stderr
    sql = done.stdout
    assert (
        sql.count("CREATE USER OR REPLACE") == 7
        and "GRANT SELECT, INSERT ON `audit`.`audit_log` TO `alpr_audit_role`" in sql
    )
    assert not any(p.read_text().strip() in sql for p in folder.iterdir())
    refused = run_cli("db", "grants", "--passwords", str(folder), "--apply")
    assert refused.returncode != 0 and "--apply needs a ClickHouse server" in refused.stderr
