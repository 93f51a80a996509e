"""Password login (policy 3.C.1): who may get a token, lockout, and the audit record of each try.

A token is issued only to an enabled, unlocked user whose password matches and who holds a
written authorization and current training (section 5). Every attempt, allowed or not, is
an audit event; an unknown user and a wrong password get the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alpr.audit import AuditClient
from alpr.auth import Principal, issue_token
from services.audit.passwords import hash_password, verify_password
from services.audit.registry import UserRegistry

_DUMMY_HASH = hash_password("not-a-real-password-0")


class LoginRefused(Exception):
    def __init__(self, status: int, public: str, reason: str) -> None:
        super().__init__(public)
        self.status = status
        self.public = public
        self.reason = reason


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: int
    role: str
    must_change_password: bool


@dataclass
class LoginService:
    registry: UserRegistry
    secret: str
    audit: AuditClient
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    token_ttl: timedelta = timedelta(minutes=15)

    def login(self, username: str, password: str, client: str, now: datetime | None = None) -> Session:
        now = now or datetime.now(UTC)
        try:
            session = self._check(username, password, now)
        except LoginRefused as refused:
            user = self.registry.get(username)
            who = Principal(username, user.role, "", 0) if user else None
            self.audit.record_nowait(
                self.audit.event(who, "login", "/v1/auth/login", outcome="denied", client=client, reason=refused.reason)
            )
            raise
        user = self.registry.require(username)
        # A login is an access to the system: recorded (and required) like any other.
        self.audit.record(
            self.audit.event(
                Principal(username, user.role, "", 0), "login", "/v1/auth/login", outcome="allowed", client=client
            )
        )
        return session

    def _check(self, username: str, password: str, now: datetime) -> Session:
        user = self.registry.get(username)
        if user is None:
            verify_password(_DUMMY_HASH, password)  # same cost as a real check: no user-name probing by timing
            raise LoginRefused(401, "invalid user name or password", "unknown user")
        if user.disabled:
            raise LoginRefused(403, "account disabled", "account disabled")
        if user.locked_until and user.locked_until > now:
            raise LoginRefused(
                423, f"account locked until {user.locked_until.isoformat(timespec='minutes')}", "account locked"
            )
        if not verify_password(user.password_hash, password):
            locked = self.registry.record_failure(username, self.max_failures, now + self.lockout)
            reason = f"wrong password; account locked for {self.lockout}" if locked else "wrong password"
            raise LoginRefused(401, "invalid user name or password", reason)
        standing = self.registry.standing(username, now.date())
        if not standing.allowed:
            raise LoginRefused(403, f"access refused: {standing.reason}", standing.reason)
        self.registry.record_success(username)
        ttl = int(self.token_ttl.total_seconds())
        token = issue_token(self.secret, username, user.role, ttl_s=ttl, now=now.timestamp())
        return Session(token, int(now.timestamp()) + ttl, user.role, user.must_change)
