"""The user registry: users, written authorizations, training records.

A small transactional store (`services/audit/db.py`: SQLite by default, PostgreSQL when
configured) that never holds a plain password. Policy
section 5: "All personnel using Metro's ALPR shall be authorized in writing and must receive
training"; a user without a current authorization and current training cannot log in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from alpr.roles import PERSON_ROLES
from services.audit.db import GovernanceDB

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username        TEXT PRIMARY KEY,
    full_name       TEXT NOT NULL,
    role            TEXT NOT NULL,
    supervisor      TEXT REFERENCES users(username),
    password_hash   TEXT NOT NULL,
    must_change     INTEGER NOT NULL DEFAULT 1,
    disabled        INTEGER NOT NULL DEFAULT 0,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS authorizations (
    username        TEXT NOT NULL REFERENCES users(username),
    authorized_by   TEXT NOT NULL,
    authorized_on   TEXT NOT NULL,
    document_ref    TEXT NOT NULL,
    revoked         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS training (
    username        TEXT NOT NULL REFERENCES users(username),
    course          TEXT NOT NULL,
    completed_on    TEXT NOT NULL,
    expires_on      TEXT NOT NULL,
    recorded_by     TEXT NOT NULL
)
"""


class RegistryError(ValueError):
    """A request the registry refuses (unknown user, duplicate, bad role); safe to show."""


@dataclass(frozen=True)
class User:
    username: str
    full_name: str
    role: str
    supervisor: str | None
    password_hash: str
    must_change: bool
    disabled: bool
    failed_logins: int
    locked_until: datetime | None


@dataclass(frozen=True)
class Standing:
    """Whether a user may access ALPR data today, and if not, why (for the audit record)."""

    allowed: bool
    reason: str


class UserRegistry:
    def __init__(self, db: GovernanceDB) -> None:
        self.db = db
        db.script(SCHEMA)

    # -- users ---------------------------------------------------------------------------
    def create_user(
        self,
        username: str,
        full_name: str,
        role: str,
        password_hash: str,
        created_by: str,
        supervisor: str | None = None,
    ) -> None:
        if role not in PERSON_ROLES:
            raise RegistryError(f"unknown role {role!r}; roles: {', '.join(sorted(PERSON_ROLES))}")
        if not username.replace(".", "").replace("-", "").replace("_", "").isalnum() or len(username) > 64:
            raise RegistryError("user name may hold letters, digits, '.', '-' and '_' (at most 64)")
        with self.db.transaction() as db:
            if db.one("SELECT 1 AS x FROM users WHERE username = ?", (username,)):
                raise RegistryError(f"user {username} exists")
            if supervisor and not db.one("SELECT 1 AS x FROM users WHERE username = ?", (supervisor,)):
                raise RegistryError(f"supervisor {supervisor} does not exist")
            db.execute(
                "INSERT INTO users (username, full_name, role, supervisor, password_hash, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (username, full_name, role, supervisor, password_hash, _now_iso(), created_by),
            )

    def get(self, username: str) -> User | None:
        row = self.db.one("SELECT * FROM users WHERE username = ?", (username,))
        if row is None:
            return None
        return User(
            row["username"],
            row["full_name"],
            row["role"],
            row["supervisor"],
            row["password_hash"],
            bool(row["must_change"]),
            bool(row["disabled"]),
            row["failed_logins"],
            datetime.fromisoformat(row["locked_until"]) if row["locked_until"] else None,
        )

    def require(self, username: str) -> User:
        user = self.get(username)
        if user is None:
            raise RegistryError(f"no user {username}")
        return user

    def list_users(self) -> list[dict]:
        return self.db.execute(
            "SELECT username, full_name, role, supervisor, disabled, failed_logins, locked_until, must_change "
            "FROM users ORDER BY username"
        )

    def staff_of(self, supervisor: str) -> list[str]:
        return [
            r["username"] for r in self.db.execute("SELECT username FROM users WHERE supervisor = ?", (supervisor,))
        ]

    def set_password(self, username: str, password_hash: str, must_change: bool = False) -> None:
        self.require(username)
        self.db.execute(
            "UPDATE users SET password_hash = ?, must_change = ? WHERE username = ?",
            (password_hash, int(must_change), username),
        )

    def set_disabled(self, username: str, disabled: bool) -> None:
        self.require(username)
        self.db.execute(
            "UPDATE users SET disabled = ?, failed_logins = 0, locked_until = NULL WHERE username = ?",
            (int(disabled), username),
        )

    def record_failure(self, username: str, max_failures: int, lock_until: datetime) -> bool:
        """Count a failed login; returns True when this failure locks the account."""
        with self.db.transaction() as db:
            row = db.one(
                "UPDATE users SET failed_logins = failed_logins + 1 WHERE username = ? RETURNING failed_logins",
                (username,),
            )
            if row is None:
                return False
            if row["failed_logins"] < max_failures:
                return False
            db.execute(
                "UPDATE users SET failed_logins = 0, locked_until = ? WHERE username = ?",
                (lock_until.isoformat(), username),
            )
            return True

    def record_success(self, username: str) -> None:
        self.db.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = ?", (username,))

    # -- authorizations and training -----------------------------------------------------
    def authorize(self, username: str, authorized_by: str, authorized_on: date, document_ref: str) -> None:
        if not document_ref.strip():
            raise RegistryError("a written authorization needs its document reference")
        self.require(username)
        self.db.execute(
            "INSERT INTO authorizations (username, authorized_by, authorized_on, document_ref) VALUES (?, ?, ?, ?)",
            (username, authorized_by, authorized_on.isoformat(), document_ref),
        )

    def revoke_authorizations(self, username: str) -> None:
        self.db.execute("UPDATE authorizations SET revoked = 1 WHERE username = ?", (username,))

    def record_training(
        self, username: str, course: str, completed_on: date, expires_on: date, recorded_by: str
    ) -> None:
        if expires_on <= completed_on:
            raise RegistryError("training must expire after it was completed")
        self.require(username)
        self.db.execute(
            "INSERT INTO training (username, course, completed_on, expires_on, recorded_by) VALUES (?, ?, ?, ?, ?)",
            (username, course, completed_on.isoformat(), expires_on.isoformat(), recorded_by),
        )

    def standing(self, username: str, today: date) -> Standing:
        """May this user access ALPR data today? Written authorization + current training (section 5)."""
        user = self.get(username)
        if user is None:
            return Standing(False, "unknown user")
        if user.disabled:
            return Standing(False, "account disabled")
        if (
            self.db.one(
                "SELECT 1 AS x FROM authorizations WHERE username = ? AND revoked = 0 AND authorized_on <= ?",
                (username, today.isoformat()),
            )
            is None
        ):
            return Standing(False, "no written authorization on record")
        if (
            self.db.one(
                "SELECT 1 AS x FROM training WHERE username = ? AND completed_on <= ? AND expires_on > ?",
                (username, today.isoformat(), today.isoformat()),
            )
            is None
        ):
            return Standing(False, "no current training record")
        return Standing(True, "")

    def records(self, username: str) -> dict:
        return {
            "authorizations": self.db.execute(
                "SELECT authorized_by, authorized_on, document_ref, revoked FROM authorizations WHERE username = ?",
                (username,),
            ),
            "training": self.db.execute(
                "SELECT course, completed_on, expires_on, recorded_by FROM training WHERE username = ?", (username,)
            ),
        }

    def close(self) -> None:
        self.db.close()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
