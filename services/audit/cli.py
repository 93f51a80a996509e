"""`alpr audit serve`: the governance service."""

from __future__ import annotations


def _serve(args) -> int:
    from alpr import logs
    from alpr.audit import AuditClient
    from alpr.runtime import Workers, run_service
    from alpr.settings import ensure_port_free, load_settings
    from services.audit.main import build_app, build_consumer, open_audit_store
    from services.audit.settings import AuditSettings

    settings = load_settings(AuditSettings)
    logs.configure("audit", settings.log_level)
    ensure_port_free(settings.http_host, settings.http_port)
    store = open_audit_store(settings)
    workers = Workers()
    try:
        workers.start("audit-sink", build_consumer(settings, store).run)
        app = build_app(settings, store, workers, AuditClient(settings.kafka_bootstrap, "audit"))
        run_service(app, workers, settings.http_host, settings.http_port, settings.log_level)
    finally:
        workers.shutdown()
        store.close()
    return 0


def register(sub) -> None:
    audit = sub.add_parser("audit", help="governance service: audit trail sink and auditors' API")
    ops = audit.add_subparsers(dest="op", required=True)
    ops.add_parser("serve", help="consume alpr.audit.v1 into ClickHouse and serve /v1/audit/events").set_defaults(handler=_serve)
