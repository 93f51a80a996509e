"""Passwords: argon2id hashes and the password policy (policy 3.C.1: login/password access)."""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2id with the library's RFC 9106 low-memory profile: ~50 ms per check on the dev
# machine, slow enough to make guessing expensive, fast enough for interactive logins.
_hasher = PasswordHasher()

MIN_LENGTH = 12


class WeakPassword(ValueError):
    """The password does not meet the policy; the message says which rule."""


def check_policy(password: str, username: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_LENGTH} characters")
    if username.lower() in password.lower():
        raise WeakPassword("password must not contain the user name")
    classes = sum(
        any(c in group for c in password)
        for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation + " ")
    )
    if classes < 3:
        raise WeakPassword("password must mix at least three of: lower case, upper case, digits, symbols")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """A random password that satisfies the policy, for new users (changed at first login)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = (
            "".join(secrets.choice(alphabet) for _ in range(16))
            + secrets.choice("!#%+-=")
            + secrets.choice(string.digits)
        )
        try:
            check_policy(candidate, "\x00")
            return candidate
        except WeakPassword:
            continue
