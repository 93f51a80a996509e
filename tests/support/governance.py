"""Users of the governance service for tests: a secret, a password, adding an authorized and trained user, logging in."""

from __future__ import annotations

from datetime import date, timedelta

from services.audit.passwords import hash_password

SECRET = "g" * 40
PASSWORD = "Correct-horse-42"
TODAY = date.today()


def add_user(registry, username, role, authorized=True, trained_until=TODAY + timedelta(days=365), supervisor=None):
    registry.create_user(username, username.title(), role, hash_password(PASSWORD), "test", supervisor)
    if authorized:
        registry.authorize(username, "Director, Parking Management", TODAY - timedelta(days=10), f"AUTH-{username}")
    if trained_until:
        registry.record_training(
            username, "ALPR access and privacy", trained_until - timedelta(days=365), trained_until, "test"
        )


def login(client, username, password=PASSWORD):
    return client.post("/v1/auth/login", json={"username": username, "password": password})
