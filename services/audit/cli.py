"""`alpr audit serve` (the governance service) and `alpr users …` (user administration)."""

from __future__ import annotations

import getpass
import sys
from datetime import date

from alpr.contracts.registry import Topic


def _serve(args) -> int:
    from alpr import logs
    from alpr.settings import load_settings
    from services.audit.main import run
    from services.audit.settings import AuditSettings

    settings = load_settings(AuditSettings)
    logs.configure("audit", settings.log_level)
    return run(settings)


class _Admin:
    """Direct registry access for administrators on the server, audited like the API."""

    def __init__(self) -> None:
        from alpr.audit import AuditClient
        from alpr.auth import Principal
        from alpr.settings import load_settings
        from services.audit.registry import UserRegistry
        from services.audit.settings import AuditSettings

        self.settings = load_settings(AuditSettings)

        self.registry = UserRegistry(self.settings.governance_db())
        self.audit = AuditClient(
            self.settings.kafka_bootstrap, "audit", topic=Topic.AUDIT.on(self.settings.topic_prefix)
        )
        self.principal = Principal(f"cli:{getpass.getuser()}", "admin", "", 0)

    def done(self, action: str, **filters) -> None:
        from alpr.audit import AuditUnavailable
        from alpr.errors import AlprError

        try:
            self.audit.record(
                self.audit.event(
                    self.principal,
                    action,
                    "alpr users",
                    outcome="allowed",
                    filters={k: str(v) for k, v in filters.items()},
                    row_count=1,
                )
            )
        except AuditUnavailable as err:
            raise AlprError(f"done, but the audit event could not be recorded: {err}") from None


def _wrap(fn):
    def handler(args) -> int:
        from alpr.errors import AlprError
        from services.audit.passwords import WeakPassword
        from services.audit.registry import RegistryError

        try:
            return fn(args)
        except (RegistryError, WeakPassword) as err:
            raise AlprError(str(err)) from None

    return handler


def _create(args) -> int:
    from services.audit.passwords import check_policy, hash_password, one_time_password

    admin = _Admin()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else one_time_password()
    check_policy(password, args.username)
    admin.registry.create_user(
        args.username, args.name, args.role, hash_password(password), admin.principal.user, args.supervisor
    )
    admin.done("users.create", user=args.username, role=args.role)
    print(f"created {args.username} ({args.role})")
    if not args.password_stdin:
        print(f"one-time password: {password}")
    print("next: record the written authorization (alpr users authorize) and training (alpr users train)")
    return 0


def _authorize(args) -> int:
    admin = _Admin()
    admin.registry.authorize(args.username, args.by, date.fromisoformat(args.on), args.document)
    admin.done("users.authorize", user=args.username, document_ref=args.document)
    print(f"{args.username}: written authorization {args.document} recorded")
    return 0


def _train(args) -> int:
    admin = _Admin()
    admin.registry.record_training(
        args.username,
        args.course,
        date.fromisoformat(args.completed),
        date.fromisoformat(args.expires),
        admin.principal.user,
    )
    admin.done("users.train", user=args.username, course=args.course)
    print(f"{args.username}: training {args.course} recorded, valid until {args.expires}")
    return 0


def _disable(args) -> int:
    from alpr.errors import AlprError
    from services.audit.revocations import RevocationBook, RevocationUnpublished, user_revocation

    admin = _Admin()
    admin.registry.set_disabled(args.username, not args.enable)
    if not args.enable:
        # As the API does: the tokens issued before are revoked everywhere before we say done.
        book = RevocationBook(
            admin.registry.db, admin.settings.kafka_bootstrap, topic=Topic.REVOCATIONS.on(admin.settings.topic_prefix)
        )
        try:
            book.publish(user_revocation(args.username, reason="user_disabled", by=admin.principal.user))
        except RevocationUnpublished as err:
            raise AlprError(
                f"{args.username} disabled, but the tokens already issued are still valid: {err}; run the command again"
            ) from None
    admin.done("users.enable" if args.enable else "users.disable", user=args.username)
    print(f"{args.username}: {'enabled' if args.enable else 'disabled'}")
    return 0


def _list(args) -> int:
    admin = _Admin()
    users = admin.registry.list_users()
    admin.done("users.list")
    today = date.today()
    for u in users:
        standing = admin.registry.standing(u["username"], today)
        print(
            f"{u['username']:20} {u['role']:20} {'disabled' if u['disabled'] else 'active':9} "
            f"{'may access' if standing.allowed else 'no access: ' + standing.reason}"
        )
    return 0


def register(sub) -> None:
    from alpr.roles import PERSON_ROLES

    audit = sub.add_parser("audit", help="governance service: users, login, audit trail, holds, transparency")
    ops = audit.add_subparsers(dest="op", required=True)
    ops.add_parser("serve", help="run the governance service (audit sink + API)").set_defaults(handler=_serve)

    users = sub.add_parser("users", help="administer users, written authorizations and training (audited)")
    u = users.add_subparsers(dest="op", required=True)
    c = u.add_parser("create", help="create a user; prints a one-time password")
    c.add_argument("username")
    c.add_argument("--name", required=True, help="full name")
    c.add_argument("--role", required=True, choices=sorted(PERSON_ROLES))
    c.add_argument("--supervisor", help="user name of the supervisor (who may view this user's actions)")
    c.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    c.set_defaults(handler=_wrap(_create))
    a = u.add_parser("authorize", help="record a written authorization (policy section 5)")
    a.add_argument("username")
    a.add_argument("--by", required=True, help="who authorized, in writing")
    a.add_argument("--on", required=True, help="date of the authorization (YYYY-MM-DD)")
    a.add_argument("--document", required=True, help="reference of the written authorization")
    a.set_defaults(handler=_wrap(_authorize))
    t = u.add_parser("train", help="record completed training")
    t.add_argument("username")
    t.add_argument("--course", required=True)
    t.add_argument("--completed", required=True, help="YYYY-MM-DD")
    t.add_argument("--expires", required=True, help="YYYY-MM-DD")
    t.set_defaults(handler=_wrap(_train))
    d = u.add_parser("disable", help="disable (or --enable) a user")
    d.add_argument("username")
    d.add_argument("--enable", action="store_true")
    d.set_defaults(handler=_wrap(_disable))
    u.add_parser("list", help="users and whether each may access ALPR data today").set_defaults(handler=_wrap(_list))
