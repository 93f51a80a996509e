"""Token revocation in seconds (alpr/revocations.py, services/audit/revocations.py).

Through the real broker: a logout on the governance service reaches the occupancy service
(`alpr occupancy serve`, its own process) within seconds, and a fresh occupancy process still
refuses the token; a disabled user's tokens are refused by ingest; a malformed record goes to
the DLQ once, even across a restart; an expired revocation is tombstoned and forgotten. The
pure parts (the set, the parser, the token check) first.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Annotated

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType
from fastapi import Depends
from fastapi.testclient import TestClient

from alpr.audit import AuditClient
from alpr.auth import MAX_TOKEN_TTL_S, Principal, issue_token
from alpr.contracts.registry import Topic, encode, load_registry
from alpr.errors import ContractError
from alpr.http import Access, Guard, create_app, install_auth
from alpr.kafka.config import client_config, producer_config
from alpr.kafka.topics import apply_topics
from alpr.revocations import RevocationFeed, RevocationSet, parse_revocation
from alpr.roles import Permission
from alpr.runtime import Workers
from services.audit.db import GovernanceDB
from services.audit.revocations import RevocationBook, token_revocation, user_revocation
from tests.support.governance import add_user, login
from tests.support.waiting import wait_for

REGISTRY = load_registry()
NOW = time.time()


@pytest.fixture(autouse=True)
def _now():
    """Each test's clock, read when it starts: a time read at import goes stale in a long suite
    (these tokens expire 15 minutes after NOW; the full suite runs longer than that)."""
    global NOW
    NOW = time.time()


def principal(user="jdoe", token_id="t1", issued_at=None, ttl=900) -> Principal:
    issued = int(NOW if issued_at is None else issued_at)
    return Principal(user, "operations", token_id, issued + ttl, None, issued)


# -- pure parts ---------------------------------------------------------------------------


def test_the_set_refuses_a_logged_out_token_and_a_disabled_users_earlier_tokens():
    revocations = RevocationSet("probe", loaded=True)
    mine, other = principal(token_id="t1"), principal(token_id="t2")
    logout = token_revocation(mine, reason="logout", by="jdoe", now=NOW)
    revocations.apply(logout.revocation_id, logout)
    assert revocations.refusal(mine) == logout and revocations.refusal(other) is None

    disabled = user_revocation("jdoe", reason="user_disabled", by="root", now=NOW)
    revocations.apply(disabled.revocation_id, disabled)
    cut = disabled.issued_before.timestamp()
    assert cut == int(NOW) + 1 and disabled.expires_at.timestamp() == cut + MAX_TOKEN_TTL_S
    assert revocations.refusal(principal(token_id="t3", issued_at=int(NOW))) == disabled  # same second: refused
    assert revocations.refusal(principal(token_id="t4", issued_at=cut)) is None  # issued after: accepted
    assert revocations.refusal(principal(user="asmith", token_id="t5")) is None

    # An earlier record of the key arriving late does not undo a later one; a tombstone does.
    earlier = user_revocation("jdoe", reason="user_disabled", by="root", now=NOW - 60)
    revocations.apply(earlier.revocation_id, earlier)
    assert revocations.refusal(principal(token_id="t3", issued_at=int(NOW))) == disabled
    revocations.apply(disabled.revocation_id, None)
    assert revocations.refusal(principal(token_id="t3", issued_at=int(NOW))) is None

    # A record whose tokens have all expired is not kept, and prune forgets those that expire.
    expired = token_revocation(principal(token_id="old", issued_at=NOW - 2000), reason="logout", by="jdoe", now=NOW)
    revocations.apply(expired.revocation_id, expired)
    assert len(revocations) == 1
    assert revocations.prune(now=logout.expires_at.timestamp()) == 1 and len(revocations) == 0


def test_the_parser_refuses_what_cannot_be_applied():
    record = token_revocation(principal(token_id="abc"), reason="logout", by="jdoe", now=NOW)
    assert parse_revocation(b"token:abc", encode(record)) == ("token:abc", record)
    assert parse_revocation(b"token:abc", None) == ("token:abc", None)  # a tombstone
    body = json.loads(encode(record))
    cases = {
        "without a key": (None, encode(record)),
        "not JSON": (b"token:abc", b"{not json"),
        "under another key": (b"token:xyz", encode(record)),
        "kind token without its token": (b"token:abc", json.dumps({**body, "token_id": None}).encode()),
        "an unknown field": (b"token:abc", json.dumps({**body, "scope": "all"}).encode()),
    }
    for what, (key, value) in cases.items():
        with pytest.raises(ContractError):
            parse_revocation(key, value)
            pytest.fail(f"a record {what} was accepted")


def test_data_routes_refuse_tokens_until_the_revocations_are_read_operational_routes_do_not():
    revocations = RevocationSet("probe")  # not loaded: its feed has not reached the end yet
    audit = AuditClient("127.0.0.1:1", "probe", timeout_s=1)
    app = create_app("probe")
    install_auth(app, auth_secret="p" * 40, audit=audit, revocations=revocations)
    served: list[str] = []

    @app.get("/v1/data")
    def data(access: Annotated[Access, Depends(Guard(Permission.OCCUPANCY_READ, "occupancy.read"))]):
        served.append("data")

    @app.get("/v1/status")
    def status(access: Annotated[Access, Depends(Guard(Permission.OCCUPANCY_READ, "status.read", operational=True))]):
        served.append("status")

    client = TestClient(app)
    mine = issue_token("p" * 40, "jdoe", "operations")
    headers = {"Authorization": f"Bearer {mine}"}
    r = client.get("/v1/data", headers=headers)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and "not loaded" in r.json()["detail"]
    assert client.get("/v1/status", headers=headers).status_code == 200 and served == ["status"]
    # A revocation it already knows is refused on every route, loaded or not.
    from alpr.auth import verify_token

    logout = token_revocation(verify_token("p" * 40, mine), reason="logout", by="jdoe")
    revocations.apply(logout.revocation_id, logout)
    r = client.get("/v1/status", headers=headers)
    assert r.status_code == 401 and r.json()["detail"] == "token revoked" and served == ["status"]


# -- through the broker -------------------------------------------------------------------


def apply(bootstrap: str, prefix: str, *topics: str) -> None:
    apply_topics(bootstrap, {t: REGISTRY[t] for t in topics}, prefix=prefix)


def delete_prefixed(bootstrap: str, prefix: str) -> None:
    admin = AdminClient(client_config(bootstrap, **{"log_level": 0}))
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    for future in admin.delete_topics(names).values() if names else []:
        try:
            future.result(timeout=30)
        except Exception:
            pass


class Governance:
    """The governance service (users, login, logout, disable) in this process, with its own feed."""

    def __init__(self, bootstrap: str, prefix: str, data_dir, secret: str) -> None:
        from services.audit.main import build_app, open_audit_store
        from services.audit.registry import UserRegistry
        from services.audit.settings import AuditSettings

        settings = AuditSettings(
            kafka_bootstrap=bootstrap, data_dir=data_dir, auth_secret=secret, environment="test", topic_prefix=prefix
        )
        self.store = open_audit_store(settings)
        self.registry = UserRegistry(GovernanceDB(settings.governance_url))
        self.workers = Workers()
        self.revocations = RevocationFeed("audit", bootstrap, topic_prefix=prefix)
        self.workers.start("revocations", self.revocations.run)
        self.app = build_app(
            settings,
            self.store,
            self.workers,
            AuditClient(bootstrap, "audit", topic=Topic.AUDIT.on(prefix)),
            self.registry,
            topic_prefix=prefix,
            revocations=self.revocations,
        )
        self.client = TestClient(self.app)
        assert self.revocations.wait_loaded(30), "governance never read its revocations"

    def token(self, user: str) -> dict[str, str]:
        r = login(self.client, user)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def close(self) -> None:
        self.workers.shutdown()
        self.store.close()


def audit_event(bootstrap: str, topic: str, predicate, timeout: float = 20.0) -> dict:
    """The first event of the audit topic that `predicate` accepts, reading from the beginning."""
    c = Consumer(
        client_config(bootstrap, **{"group.id": f"read-{time.monotonic_ns()}", "auto.offset.reset": "earliest"})
    )
    c.subscribe([topic])
    seen: list[dict] = []
    try:

        def found():
            seen.extend(json.loads(m.value()) for m in c.consume(num_messages=100, timeout=0.2) if m.error() is None)
            return next((e for e in seen if predicate(e)), None)

        return wait_for(
            found, timeout, "the audit event", describe=lambda: [(e["service"], e["user"], e["reason"]) for e in seen]
        )
    finally:
        c.close()


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_a_logout_reaches_another_service_within_seconds_and_a_restarted_one_still_refuses(bootstrap, unique, tmp_path):
    from tests.occupancy.conftest import SECRET, Kafka, Service

    kafka = Kafka(bootstrap, f"test.{unique}.")
    apply(bootstrap, kafka.prefix, Topic.REVOCATIONS, Topic.REVOCATIONS_DLQ)  # compacted, as in production
    governance = Governance(bootstrap, kafka.prefix, tmp_path / "gov", SECRET)
    occupancy = Service(kafka, tmp_path / "occupancy")
    try:
        add_user(governance.registry, "shiftlead", "operations")
        add_user(governance.registry, "colleague", "operations")
        mine, theirs = governance.token("shiftlead"), governance.token("colleague")
        occupancy.start(timeout=90)
        facilities = f"{occupancy.url}/v1/facilities"
        import httpx

        assert httpx.get(facilities, headers=mine, timeout=10).status_code == 200  # the login works on B

        assert governance.client.post("/v1/auth/logout", headers=mine).status_code == 204
        logged_out = time.monotonic()
        # The governance service refuses at once; occupancy once its feed has the record.
        assert (
            governance.client.post(
                "/v1/auth/password", headers=mine, json={"current_password": "x", "new_password": "y"}
            ).status_code
            == 401
        )
        refused = wait_for(
            lambda: (r := httpx.get(facilities, headers=mine, timeout=10)).status_code == 401 and r,
            timeout=5,
            what="occupancy to refuse the logged-out token",
        )
        assert refused.json()["detail"] == "token revoked" and time.monotonic() - logged_out < 5
        metrics = httpx.get(f"{occupancy.url}/metrics", timeout=10).text  # the delay is measured, not guessed
        assert 'alpr_revocation_delay_seconds_count{service="occupancy"} 1.0' in metrics
        assert httpx.get(facilities, headers=theirs, timeout=10).status_code == 200  # only that token
        event = audit_event(
            bootstrap,
            kafka.topic(Topic.AUDIT),
            lambda e: e["service"] == "occupancy" and e["outcome"] == "denied" and e["user"] == "shiftlead",
        )
        assert event["action"] == "occupancy.read" and event["reason"].startswith(
            "token revoked: logout by shiftlead at "
        )

        # A fresh process reads the topic from the beginning before it reports ready.
        assert occupancy.stop() == 0
        occupancy.start(timeout=90)
        assert httpx.get(facilities, headers=mine, timeout=10).status_code == 401
        assert httpx.get(facilities, headers=theirs, timeout=10).status_code == 200
    finally:
        occupancy.ensure_stopped()
        governance.close()
        delete_prefixed(bootstrap, kafka.prefix)


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_a_disabled_users_tokens_are_refused_by_another_service(bootstrap, unique, tmp_path):
    from services.ingest.main import build_service
    from tests.ingest.conftest import registry, settings

    secret = "d" * 40
    prefix = f"test.{unique}."
    apply(bootstrap, prefix, Topic.REVOCATIONS, Topic.REVOCATIONS_DLQ, Topic.AUDIT, Topic.FRAMES)
    governance = Governance(bootstrap, prefix, tmp_path / "gov", secret)
    ingest = build_service(settings(bootstrap, auth_secret=secret), registry(), topic_prefix=prefix)
    try:
        add_user(governance.registry, "shiftlead", "operations")
        add_user(governance.registry, "root", "admin")
        first, second, admin = governance.token("shiftlead"), governance.token("shiftlead"), governance.token("root")
        client = TestClient(ingest.app)
        wait_for(lambda: client.get("/healthz").json()["ready"], what="ingest ready (revocations read)")
        for headers in (first, second, admin):
            assert client.get("/v1/sources", headers=headers).status_code == 200

        assert governance.client.post("/v1/users/shiftlead/disable", headers=admin).status_code == 204
        wait_for(
            lambda: client.get("/v1/sources", headers=first).status_code == 401,
            timeout=5,
            what="ingest to refuse the disabled user's token",
        )
        assert client.get("/v1/sources", headers=second).status_code == 401  # every token issued before
        assert client.get("/v1/sources", headers=admin).status_code == 200
        assert login(governance.client, "shiftlead").status_code == 403

        # Enabled again, the user's new login works; the old tokens stay refused until they expire.
        assert governance.client.post("/v1/users/shiftlead/enable", headers=admin).status_code == 204
        cut = next(r for r in governance.app.state.revocation_book.in_force() if r.user == "shiftlead").issued_before
        wait_for(lambda: datetime.now(UTC) >= cut, timeout=3, what="the clock to pass the revocation's second")
        fresh = governance.token("shiftlead")
        assert client.get("/v1/sources", headers=fresh).status_code == 200
        assert client.get("/v1/sources", headers=first).status_code == 401
    finally:
        ingest.close()
        governance.close()
        delete_prefixed(bootstrap, prefix)


def dlq_messages(bootstrap: str, topic: str) -> list:
    c = Consumer(client_config(bootstrap, **{"group.id": f"read-{time.monotonic_ns()}"}))
    try:
        end = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        c.assign([TopicPartition(topic, 0, 0)])
        out: list = []
        while len(out) < end:
            out += [m for m in c.consume(num_messages=end, timeout=1.0) if m.error() is None]
        return out
    finally:
        c.close()


@pytest.mark.kafka
def test_malformed_revocations_go_to_the_dlq_once_and_expired_ones_are_tombstoned(bootstrap, unique, tmp_path):
    prefix = f"test.{unique}."
    apply(bootstrap, prefix, Topic.REVOCATIONS, Topic.REVOCATIONS_DLQ)
    topic, dlq = Topic.REVOCATIONS.on(prefix), Topic.REVOCATIONS_DLQ.on(prefix)
    admin = AdminClient(client_config(bootstrap, **{"log_level": 0}))
    resource = ConfigResource(ResourceType.TOPIC, topic)

    def cleanup_policy():
        try:  # a topic just created is known to every part of the broker a moment later
            return admin.describe_configs([resource])[resource].result(30)["cleanup.policy"].value
        except KafkaException:
            return None

    assert wait_for(cleanup_policy, what="the new topic's configuration") == "compact"

    good = token_revocation(principal(token_id="good"), reason="logout", by="jdoe")
    body = json.loads(encode(good))
    producer = Producer(producer_config(bootstrap, "revocation-tests"))
    bad = [
        (b"token:abc", b"{not json"),
        (b"token:abc", encode(good)),
        (b"token:abc", json.dumps({**body, "revocation_id": "token:abc", "token_id": "abc", "kind": "user"}).encode()),
    ]
    for key, value in [*bad, (b"token:good", encode(good))]:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0

    def run_feed() -> tuple[RevocationFeed, threading.Event, threading.Thread]:
        feed = RevocationFeed("occupancy", bootstrap, topic_prefix=prefix, group_id=f"{prefix}feed")
        stop = threading.Event()
        thread = threading.Thread(target=feed.run, args=(stop,), daemon=True)
        thread.start()
        assert feed.wait_loaded(30), "the feed never reached the end of the topic"
        return feed, stop, thread

    feed, stop, thread = run_feed()
    try:
        assert len(feed) == 1 and feed.refusal(principal(token_id="good")) == good
        dead = wait_for(lambda: len(m := dlq_messages(bootstrap, dlq)) >= 3 and m, what="three dead letters")
        assert [(m.key(), m.value()) for m in dead] == bad  # the original bytes, for a replay
        headers = [dict(m.headers()) for m in dead]
        assert [h["dlq.source_offset"] for h in headers] == [b"0", b"1", b"2"]
        assert {h["dlq.service"] for h in headers} == {b"occupancy"} and all(h["dlq.reason"] for h in headers)
    finally:
        stop.set()
        thread.join(30)

    # A restart reads every record again but does not dead-letter the same ones twice.
    feed, stop, thread = run_feed()
    try:
        assert len(feed) == 1
        feed.producer.flush(10)
        assert len(dlq_messages(bootstrap, dlq)) == 3

        # An expired revocation: the governance service tombstones it and every feed forgets it.
        book = RevocationBook(GovernanceDB(f"sqlite:///{tmp_path / 'gov.sqlite3'}"), bootstrap, topic=topic)
        soon = token_revocation(principal(token_id="soon"), reason="logout", by="jdoe")
        book.publish(soon)
        wait_for(lambda: feed.refusal(principal(token_id="soon")) == soon, what="the feed to take the revocation")
        assert book.sweep() == 0  # not expired yet
        assert book.sweep(now=soon.expires_at.timestamp() + 1) == 1 and book.in_force() == []
        wait_for(lambda: feed.refusal(principal(token_id="soon")) is None, what="the tombstone to reach the feed")
        assert feed.refusal(principal(token_id="good")) == good
        book.close()
    finally:
        stop.set()
        thread.join(30)
        delete_prefixed(bootstrap, prefix)
