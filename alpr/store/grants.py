"""ClickHouse server users and grants: one principal per service and purpose, least privilege.

Policy 3.A / 3.C.1: ALPR data is reachable only through a login that documents access. On a
ClickHouse server (the clickhouse-connect path) that means no service shares the `default`
user, and each principal can do only what its code does:

| principal | may | used by |
|---|---|---|
| `alpr_migrate` | DDL on the services' databases (CREATE, ALTER, MODIFY TTL), INSERT/SELECT on `schema_migrations` | `alpr db migrate` (a Job, before the services) |
| `alpr_<service>` | SELECT, INSERT on its own database; `ALTER UPDATE` on the tables a legal hold marks (`held`) | the service's consumers |
| `alpr_<service>_api` | SELECT on its own database, read-only profile | the service's HTTP API |

The audit log (`audit.audit_log`) is append-only for everyone but the migrator: the audit
service's writer gets INSERT and SELECT on it and nothing that updates, deletes or drops.

Everything is generated from the migration files (the tables a service owns, and which of
them carry the `held` column), so a new table gets its grants without a second list.
Passwords never appear in the SQL: a user is created `IDENTIFIED WITH sha256_hash`, from a
password file the operator keeps (a Kubernetes Secret).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from alpr.errors import StoreError
from alpr.store.migrate import load_migrations, services_with_migrations

MIGRATOR = "alpr_migrate"
# The privileges a writer's code uses; anything else (DROP, TRUNCATE, ALTER DELETE, ...) is absent.
WRITER_PRIVILEGES = ("SELECT", "INSERT")
HOLD_PRIVILEGE = "ALTER UPDATE"  # alpr.holds.HoldKeeper: ALTER TABLE t UPDATE held = ...
APPEND_ONLY = {("audit", "audit_log")}  # no ALTER UPDATE even if a column were named held
MIGRATOR_PRIVILEGES = ("SELECT", "INSERT", "CREATE TABLE", "CREATE DATABASE", "ALTER", "SHOW")

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS \{database\}\.(\w+)\s*\((.*?)\)\s*ENGINE", re.S)


@dataclass(frozen=True)
class Table:
    name: str
    held: bool  # has the legal-hold column


@dataclass(frozen=True)
class Principal:
    user: str
    service: str | None  # None: the migrator, across every service's database
    purpose: str  # "migrate", "write", "api"

    @property
    def role(self) -> str:
        return f"{self.user}_role"


def service_tables(service: str) -> list[Table]:
    """The tables a service's migration files create, in file order (one entry per name)."""
    seen: dict[str, Table] = {}
    for migration in load_migrations(service):
        for name, columns in _TABLE.findall(migration.sql):
            held = re.search(r"^\s*held\s+UInt8", columns, re.M) is not None
            seen[name] = Table(name, held or (name in seen and seen[name].held))
    return list(seen.values()) + [Table("schema_migrations", False)]


def principals(services: list[str] | None = None) -> list[Principal]:
    found = [Principal(MIGRATOR, None, "migrate")]
    for service in services or services_with_migrations():
        found += [Principal(f"alpr_{service}", service, "write"), Principal(f"alpr_{service}_api", service, "api")]
    return found


def _quote(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise StoreError(f"{name!r} is not a plain lower-case identifier")
    return f"`{name}`"


def privileges(principal: Principal, database: str | None = None) -> list[tuple[str, str]]:
    """(privilege, target) pairs granted to `principal`'s role; `database` overrides the
    service's database name (the default is the service name, as `open_store` uses)."""
    if principal.purpose == "migrate":
        return [(p, f"{_quote(s)}.*") for s in services_with_migrations() for p in MIGRATOR_PRIVILEGES]
    assert principal.service is not None
    db = _quote(database or principal.service)
    out: list[tuple[str, str]] = []
    for table in service_tables(principal.service):
        target = f"{db}.{_quote(table.name)}"
        if principal.purpose == "api":
            out.append(("SELECT", target))
            continue
        if table.name == "schema_migrations":
            out.append(("SELECT", target))  # the service checks the migrations ran; it runs none
            continue
        out += [(p, target) for p in WRITER_PRIVILEGES]
        if table.held and (principal.service, table.name) not in APPEND_ONLY:
            out.append((HOLD_PRIVILEGE, target))
    return out


def password_hash(password: str, salt: str) -> str:
    """ClickHouse's sha256_hash with SALT: hex(sha256(password || salt))."""
    return hashlib.sha256((password + salt).encode()).hexdigest()


def statements(passwords: dict[str, str], cluster: str | None = None, salt: str | None = None) -> list[str]:
    """The SQL that creates the roles, grants them exactly their privileges (revoking anything
    else first, so re-running converges), and creates each user with its role and, for API
    users, a read-only profile. `passwords` maps user -> password (from the operator's files)."""
    on = f" ON CLUSTER {_quote(cluster)}" if cluster else ""
    out: list[str] = []
    for p in principals():
        if p.user not in passwords:
            raise StoreError(f"no password for ClickHouse user {p.user}: write one to its password file")
        role = _quote(p.role)
        out.append(f"CREATE ROLE IF NOT EXISTS {role}{on}")
        out.append(f"REVOKE{on} ALL ON *.* FROM {role}")
        by_target: dict[str, list[str]] = {}
        for privilege, target in privileges(p):
            by_target.setdefault(target, []).append(privilege)
        for target, privs in by_target.items():
            out.append(f"GRANT{on} {', '.join(privs)} ON {target} TO {role}")
        user_salt = salt or secrets.token_hex(16)
        digest = password_hash(passwords[p.user], user_salt)
        user = _quote(p.user)
        # CREATE OR REPLACE: a changed password (a rotated Secret) takes effect on the next apply.
        out.append(
            f"CREATE USER OR REPLACE {user}{on} IDENTIFIED WITH sha256_hash BY '{digest}' SALT '{user_salt}' "
            # readonly = 2: no write of any kind even if a grant were wrong, while the client may
            # still send its session settings (clickhouse-connect does; readonly = 1 refuses them).
            f"DEFAULT ROLE {role}" + (" SETTINGS readonly = 2" if p.purpose == "api" else "")
        )
        out.append(f"GRANT{on} {role} TO {user}")
    return out


def read_passwords(folder: Path) -> dict[str, str]:
    """One file per user, named after it (`alpr_occupancy`, ...), as a Secret mounted as files."""
    found = {}
    for p in principals():
        path = folder / p.user
        if path.is_file():
            text = path.read_text().strip()
            if len(text) < 16:
                raise StoreError(f"{path}: a ClickHouse password must be at least 16 characters")
            found[p.user] = text
    return found


def new_passwords(folder: Path) -> list[str]:
    """Create the password files that do not exist yet (0600); returns the users created."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for p in principals():
        path = folder / p.user
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24) + "\n")
            made.append(p.user)
    return made
