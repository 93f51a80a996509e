"""Access tokens every service accepts: short-lived, HMAC-signed (JWT HS256), role-bearing.

The governance service (services/audit) issues them after a password login of a user with a
written authorization and current training; every other service only verifies them with the
shared secret. A request without a valid token gets 401 and an audit event (`denied`).
A token stops working before its expiry when it is revoked (a logout, a disabled user):
`alpr.revocations` carries that to every service within seconds.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from alpr.roles import ROLES, Permission, permissions_of

ALGORITHM = "HS256"
ISSUER = "alpr-governance"
DEFAULT_TTL_S = 15 * 60
# The longest lifetime any token may have (the governance settings cap theirs here): a
# revocation of "every token of a user issued before T" matters until T plus this.
MAX_TOKEN_TTL_S = 12 * 60 * 60


class AuthError(Exception):
    """The request carries no valid token; the message is safe to show the client."""


@dataclass(frozen=True)
class Principal:
    user: str
    role: str
    token_id: str
    expires_at: int
    scope: dict | None = None  # a release token's scope: release_id, plates, time_from, time_to
    issued_at: int = 0  # the token's iat (epoch seconds): a user's revocation refuses tokens issued before it

    def can(self, permission: Permission) -> bool:
        return permission in permissions_of(self.role)


def issue_token(
    secret: str, user: str, role: str, ttl_s: int = DEFAULT_TTL_S, now: float | None = None, scope: dict | None = None
) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if not 0 < ttl_s <= MAX_TOKEN_TTL_S:
        raise ValueError(f"token lifetime {ttl_s}s is outside 1..{MAX_TOKEN_TTL_S}s")
    issued = int(now if now is not None else time.time())
    claims = {"sub": user, "role": role, "iat": issued, "exp": issued + ttl_s, "iss": ISSUER, "jti": uuid.uuid4().hex}
    if scope is not None:
        claims["scope"] = scope
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "role", "exp", "iat", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidTokenError as err:
        raise AuthError(f"invalid token ({type(err).__name__})") from None
    if claims["role"] not in ROLES:
        raise AuthError("token names an unknown role")
    if claims["role"] == "release" and not isinstance(claims.get("scope"), dict):
        raise AuthError("release token without a scope")
    return Principal(
        claims["sub"], claims["role"], claims["jti"], int(claims["exp"]), claims.get("scope"), int(claims["iat"])
    )


def bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("authorization header must be 'Bearer <token>'")
    return token.strip()
