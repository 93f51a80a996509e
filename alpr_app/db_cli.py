"""`alpr db migrate|tables`: the services' ClickHouse databases (each service's own settings name its store)."""

from __future__ import annotations

import sys

from alpr.output import emit
from alpr.store.migrate import migrate_service


def _service_settings(service: str):
    import importlib

    from alpr.settings import load_settings

    module = importlib.import_module(f"services.{service}.settings")
    cls = getattr(module, f"{service.capitalize()}Settings")
    return load_settings(cls)


def open_service_store(service: str):
    """The service's store for `alpr db`: on a server, the migrator's login (`ALPR_CLICKHOUSE_USER`,
    not the service's own, which may not run DDL)."""
    from alpr.settings import CommonSettings, load_settings
    from alpr.store import open_store

    s = _service_settings(service)
    login = load_settings(CommonSettings).clickhouse_login() if s.clickhouse_url else None
    return open_store(
        service,
        clickhouse_url=s.clickhouse_url,
        data_dir=s.data_dir,
        cluster=s.clickhouse_cluster,
        login=login,
        ca_file=s.clickhouse_ca_file,
    )


def _migrate(args) -> int:
    from alpr.store.migrate import services_with_migrations

    services = services_with_migrations() if args.service == "all" else [args.service]
    for service in services:
        store = open_service_store(service)
        try:
            applied = migrate_service(service, store, _service_settings(service))
        finally:
            store.close()
        print(f"{service}: {'applied ' + ', '.join(applied) if applied else 'up to date'}")
    return 0


def _tables(args) -> int:
    store = open_service_store(args.service)
    try:
        for row in store.query(
            "SELECT name, engine, total_rows FROM system.tables WHERE database = {db:String} ORDER BY name",
            {"db": store.database},
        ):
            print(f"{row['name']:24} {row['engine']:22} rows={row['total_rows']}")
    finally:
        store.close()
    return 0


def _retention(args) -> int:

    from alpr.store.migrate import services_with_migrations
    from alpr.store.retention import as_dicts, retention_report

    services = services_with_migrations() if args.service == "all" else [args.service]
    report = []
    for service in services:
        store = open_service_store(service)
        try:
            report += retention_report(store)
        finally:
            store.close()
    if args.json:
        emit(as_dicts(report))
    else:
        for t in report:
            print(
                f"{'ok ' if t.ok else 'LATE'} {t.database}.{t.table:22} rows={t.rows:<9} oldest={t.oldest or '-':24} "
                f"past_365d={t.past_365_days:<7} held={t.held:<7} overdue={t.overdue}"
            )
    # Exit 1 when a purge is late, so a scheduler (cron, Kubernetes CronJob) can alert on it.
    return 0 if all(t.ok for t in report) else 1


def _grants(args) -> int:
    """Print (or apply) the server's users and grants; passwords come from files, never argv."""
    from pathlib import Path

    from alpr.errors import ConfigError
    from alpr.settings import CommonSettings, load_settings
    from alpr.store import grants

    folder = Path(args.passwords)
    if args.make_passwords:
        made = grants.new_passwords(folder)
        print(f"password files: {len(made)} created in {folder} ({', '.join(made) or 'all existed'})", file=sys.stderr)
    sql = grants.statements(grants.read_passwords(folder), cluster=load_settings(CommonSettings).clickhouse_cluster)
    if not args.apply:
        print(";\n".join(sql) + ";")
        return 0
    settings = load_settings(CommonSettings)
    if not settings.clickhouse_url:
        raise ConfigError("--apply needs a ClickHouse server: set ALPR_CLICKHOUSE_URL (an administrator's login)")
    from alpr.store.server import ClickHouseServerStore

    # The administrator's login (ALPR_CLICKHOUSE_USER + _PASSWORD_FILE in the init job), never a URL's.
    admin = ClickHouseServerStore(
        settings.clickhouse_url,
        "system",
        login=settings.clickhouse_login(),
        create_database=False,
        ca_file=settings.clickhouse_ca_file,
    )
    try:
        for statement in sql:
            admin.command(statement)
    finally:
        admin.close()
    print(f"applied {len(sql)} statements: {len(grants.principals())} users, each with its own role", file=sys.stderr)
    return 0


def register(sub) -> None:
    from alpr.store.migrate import services_with_migrations

    db = sub.add_parser("db", help="ClickHouse: apply migrations, list tables")
    ops = db.add_subparsers(dest="op", required=True)
    m = ops.add_parser("migrate", help="apply pending migrations (forward-only) of one or every service")
    m.add_argument("--service", default="all", choices=["all", *services_with_migrations()])
    m.set_defaults(handler=_migrate)
    r = ops.add_parser("retention-report", help="per ALPR table: oldest row, rows past 365 days, held, overdue")
    r.add_argument("--service", default="all", choices=["all", *services_with_migrations()])
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=_retention)
    g = ops.add_parser(
        "grants",
        help="the ClickHouse server's users and grants, least privilege per service (printed; --apply runs them)",
    )
    g.add_argument("--passwords", required=True, help="folder with one password file per user (a mounted Secret)")
    g.add_argument("--make-passwords", action="store_true", help="create the missing password files (0600) first")
    g.add_argument("--apply", action="store_true", help="run the statements on ALPR_CLICKHOUSE_URL (an admin login)")
    g.set_defaults(handler=_grants)
    t = ops.add_parser("tables", help="list a service's tables")
    t.add_argument("service", choices=services_with_migrations())
    t.set_defaults(handler=_tables)
