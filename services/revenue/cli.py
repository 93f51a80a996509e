"""`alpr revenue serve | import-payments FILE` (its benchmark: `alpr bench revenue`)."""

from __future__ import annotations

import sys

from alpr.contracts.registry import Topic


def _settings():
    from alpr.settings import load_settings
    from services.revenue.settings import RevenueSettings

    return load_settings(RevenueSettings)


def _serve(args) -> int:
    from alpr import logs
    from services.revenue.main import run

    settings = _settings()
    logs.configure("revenue", settings.log_level)
    return run(settings)


def _import(args) -> int:
    from pathlib import Path

    from alpr.errors import AlprError
    from services.revenue.main import payment_check
    from services.revenue.payments import PaymentPublisher, read_csv

    settings = _settings()
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (FileNotFoundError, UnicodeDecodeError) as err:
        raise AlprError(f"{path}: cannot read ({err})") from None
    rows, problems = read_csv(text)
    if problems:
        raise AlprError(f"{path}: {'; '.join(problems)}")
    publisher = PaymentPublisher(
        settings.kafka_bootstrap, Topic.PAYMENTS.on(settings.topic_prefix), payment_check(settings)
    )
    results = publisher.publish(rows, f"csv:{path.name}")
    for r in results:
        if not r.accepted:
            # Row numbers count data rows; line = row + 1 (the header).
            print(f"row {r.row} (line {r.row + 1}) {r.payment_id or '-'}: refused: {r.reason}", file=sys.stderr)
    accepted = sum(r.accepted for r in results)
    print(f"{accepted} accepted, {len(results) - accepted} refused ({path.name})")
    return 0 if accepted == len(results) else 1


def register(sub) -> None:
    revenue = sub.add_parser(
        "revenue", help="revenue matching and enforcement: sessions, payments, matches, violations"
    )
    ops = revenue.add_subparsers(dest="op", required=True)
    ops.add_parser("serve", help="run the revenue service (faust stream + API + legal holds)").set_defaults(
        handler=_serve
    )
    imp = ops.add_parser(
        "import-payments", help="validate a payments CSV and publish its good rows (delivery confirmed)"
    )
    imp.add_argument(
        "file",
        help="CSV with a header row; columns: payment_id,kind,facility_id,plate,amount_cents,"
        "paid_at,valid_from,valid_until,permit_type,source",
    )
    imp.set_defaults(handler=_import)
