"""`alpr users …`: administrators record users, written authorizations and training from the shell."""

from __future__ import annotations

import pytest

from alpr.contracts.registry import Topic
from tests.conftest import run_cli

pytestmark = pytest.mark.kafka


def test_users_commands_record_authorization_and_training(tmp_path, bootstrap, topic_factory):
    audit_topic = topic_factory(Topic.AUDIT)  # every admin action is audited, here on a fresh topic
    prefix = audit_topic[: -len(Topic.AUDIT)]
    env = {"ALPR_DATA_DIR": str(tmp_path), "ALPR_KAFKA_BOOTSTRAP": bootstrap, "ALPR_TOPIC_PREFIX": prefix}

    created = run_cli("users", "create", "jdoe", "--name", "Jane Doe", "--role", "enforcement", env=env)
    assert created.returncode == 0, created.stderr
    assert "one-time password:" in created.stdout
    listed = run_cli("users", "list", env=env)
    assert "jdoe" in listed.stdout and "no access: no written authorization on record" in listed.stdout
    assert (
        run_cli(
            "users", "authorize", "jdoe", "--by", "Director", "--on", "2026-01-05", "--document", "MEMO-1", env=env
        ).returncode
        == 0
    )
    assert (
        run_cli(
            "users",
            "train",
            "jdoe",
            "--course",
            "ALPR 101",
            "--completed",
            "2026-01-06",
            "--expires",
            "2099-01-01",
            env=env,
        ).returncode
        == 0
    )
    assert "may access" in run_cli("users", "list", env=env).stdout

    bad = run_cli("users", "create", "jdoe", "--name", "X", "--role", "enforcement", env=env)
    assert bad.returncode == 2 and bad.stderr.strip() == "alpr users: error: user jdoe exists"
    bad = run_cli(
        "users", "train", "jdoe", "--course", "C", "--completed", "2026-02-01", "--expires", "2026-01-01", env=env
    )
    assert bad.returncode == 2 and "expire after" in bad.stderr


def test_unreachable_governance_database_is_one_line(tmp_path):
    proc = run_cli(
        "users",
        "list",
        env={"ALPR_DATA_DIR": str(tmp_path), "ALPR_AUDIT_GOVERNANCE_DB_URL": "postgresql://alpr@127.0.0.1:1/nope"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("alpr users: error: cannot reach the governance database")
