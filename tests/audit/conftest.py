"""The governance service for the tests of this package: its real app over the real broker, chDB, and SQLite or PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from alpr.audit import AuditClient
from alpr.contracts.registry import Topic
from alpr.revocations import RevocationFeed
from alpr.runtime import Workers
from services.audit.db import GovernanceDB
from services.audit.main import build_app, open_audit_store
from services.audit.registry import UserRegistry
from services.audit.settings import AuditSettings
from tests.support.governance import SECRET


@pytest.fixture(params=["sqlite", "postgresql"])
def gov(request, bootstrap, topic_factory, tmp_path):
    audit_topic = topic_factory(Topic.AUDIT)
    topic_factory(Topic.HOLDS)
    topic_factory(Topic.REVOCATIONS)
    prefix = audit_topic[: -len(Topic.AUDIT)]
    settings = AuditSettings(
        kafka_bootstrap=bootstrap, data_dir=tmp_path / "gov", auth_secret=SECRET, environment="test"
    )
    store = open_audit_store(settings)
    url = (
        request.getfixturevalue("postgres_server").new_database()
        if request.param == "postgresql"
        else settings.governance_url
    )
    registry = UserRegistry(GovernanceDB(url))
    workers = Workers()
    revocations = RevocationFeed("audit", bootstrap, topic_prefix=prefix)
    workers.start("revocations", revocations.run)
    app = build_app(
        settings,
        store,
        workers,
        AuditClient(bootstrap, "audit", topic=audit_topic),
        registry,
        topic_prefix=prefix,
        revocations=revocations,
    )
    assert revocations.wait_loaded(30), "the governance service never read its revocations topic"
    yield type(
        "Gov",
        (),
        {
            "client": TestClient(app),
            "registry": registry,
            "prefix": prefix,
            "audit_topic": audit_topic,
            "settings": settings,
            "store": store,
        },
    )
    workers.shutdown()
    store.close()
