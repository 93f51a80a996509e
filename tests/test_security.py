"""Kafka security on the real secure broker (`alpr kafka start --secure`): SASL_SSL with SCRAM
users, the StandardAuthorizer, and the services' ACLs from the registry (`alpr topics apply`).

Every refusal asserted here is the broker's answer (an authentication failure, a closed TLS
handshake, TOPIC_AUTHORIZATION_FAILED), seen within a deadline, never a timeout taken for one.
The settings tests at the top need no broker.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import SecretStr

from alpr.contracts.registry import Topic, load_registry
from alpr.errors import ConfigError
from alpr.kafka import security as kafka_security
from alpr.kafka.acls import apply_acls, consumers, producers, service_grants
from alpr.kafka.broker import SERVICE_USERS, BrokerSettings, SecureBroker
from alpr.kafka.config import admin_config, consumer_config, producer_config
from alpr.kafka.security import KafkaSecurity, faust_credentials
from alpr.settings import CommonSettings, load_settings
from tests.conftest import run_cli
from tests.support.net import broker_ports

DEADLINE_S = 30.0


# -- settings (no broker) -------------------------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch):
    import os

    for k in list(os.environ):
        if k.startswith("ALPR_"):
            monkeypatch.delenv(k)
    return monkeypatch


def test_production_refuses_plaintext_kafka_in_one_line(clean_env):
    clean_env.setenv("ALPR_ENVIRONMENT", "production")
    clean_env.setenv("ALPR_AUTH_SECRET", "a-real-secret-of-enough-length")
    with pytest.raises(ConfigError) as err:
        load_settings(CommonSettings)
    line = str(err.value)
    assert "\n" not in line and "ALPR_KAFKA_SECURITY_PROTOCOL is PLAINTEXT" in line


def test_sasl_settings_read_the_password_file_and_never_show_it(clean_env, tmp_path):
    secret = "s3cret-" + uuid.uuid4().hex
    (tmp_path / "pw").write_text(secret + "\n")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    clean_env.setenv("ALPR_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    clean_env.setenv("ALPR_KAFKA_USERNAME", "ingest")
    clean_env.setenv("ALPR_KAFKA_PASSWORD_FILE", str(tmp_path / "pw"))
    clean_env.setenv("ALPR_KAFKA_CA_FILE", str(tmp_path / "ca.pem"))
    settings = load_settings(CommonSettings)
    sec = KafkaSecurity.from_settings(settings)
    assert sec.client_config() == {
        "security.protocol": "SASL_SSL",
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.ca.location": str(tmp_path / "ca.pem"),
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "ingest",
        "sasl.password": secret,
    }
    assert secret not in repr(settings) and secret not in repr(sec) and secret not in str(sec)
    # Every config function merges it: the process-wide value, or the one a caller names.
    before = kafka_security.current()  # the suite's own (make test: the secure broker's admin)
    try:
        kafka_security.configure(settings)
        assert producer_config("h:1", "c")["sasl.username"] == "ingest"
        assert consumer_config("h:1", "g", "c")["security.protocol"] == "SASL_SSL"
        assert "security.protocol" not in admin_config("h:1", KafkaSecurity())
    finally:
        kafka_security.configure(before)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"ALPR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "SASL_SSL needs ALPR_KAFKA_USERNAME"),
        (
            {"ALPR_KAFKA_USERNAME": "ingest", "ALPR_KAFKA_PASSWORD": "pw-never-echoed"},
            "set but ALPR_KAFKA_SECURITY_PROTOCOL is PLAINTEXT",
        ),
        ({"ALPR_KAFKA_SECURITY_PROTOCOL": "SSL"}, "SSL needs a client certificate"),
        (
            {
                "ALPR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "ALPR_KAFKA_USERNAME": "a",
                "ALPR_KAFKA_PASSWORD_FILE": "/nope",
            },
            "cannot be read",
        ),
    ],
)
def test_incomplete_kafka_security_is_one_clear_line(clean_env, env, says):
    for k, v in env.items():
        clean_env.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        load_settings(CommonSettings)
    assert says in str(err.value) and "\n" not in str(err.value)
    assert "pw-never-echoed" not in str(err.value)


def test_grants_follow_the_registry_and_the_issue():
    contracts = load_registry()
    frames, reads, passes, audit = (contracts[t.value] for t in (Topic.FRAMES, Topic.READS, Topic.PASSES, Topic.AUDIT))
    assert producers(frames, contracts) == {"ingest"} and consumers(frames, contracts) == {"recognizer"}
    assert producers(reads, contracts) == {"recognizer"} and consumers(reads, contracts) == {"occupancy", "revenue"}
    assert consumers(passes, contracts) == {"revenue"}
    assert producers(audit, contracts) == set(SERVICE_USERS) and consumers(audit, contracts) == {"audit"}
    grants = service_grants(contracts)
    readers = {g.principal for g in grants if g.name == Topic.READS.value and g.operation == "READ"}
    assert readers == {"User:occupancy", "User:revenue"}
    # Nothing is granted to everyone, and no service may create or alter a registry topic.
    assert all(g.principal.startswith("User:") and g.principal != "User:*" for g in grants)
    assert not [g for g in grants if g.pattern == "LITERAL" and g.operation not in ("READ", "WRITE", "DESCRIBE")]


# -- the secure broker ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    data = tmp_path_factory.mktemp("secure-kafka")
    env = {
        "ALPR_DATA_DIR": str(data),
        "ALPR_KAFKA_SECURE_PORT": str(broker_ports()),
        "ALPR_KAFKA_HEAP": "384m",
    }  # 256m ran out of heap at start once, under CI load
    broker = SecureBroker(
        BrokerSettings(data_dir=data, kafka_secure_port=int(env["ALPR_KAFKA_SECURE_PORT"]), kafka_heap="384m")
    )
    try:
        started = run_cli("kafka", "start", "--secure", env=env, timeout=150)
        assert started.returncode == 0, started.stdout + started.stderr
        admin_env = {"ALPR_DATA_DIR": str(data), **broker.client_env("admin")}
        applied = run_cli("topics", "apply", env=admin_env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "acls      0 created" not in applied.stdout
        broker.admin_env = admin_env  # type: ignore[attr-defined]
        yield broker
    finally:
        broker.stop()


def _errors_of(config: dict) -> KafkaError:
    """The first error librdkafka reports for a producer with `config` (it connects at once)."""
    seen: list[KafkaError] = []
    producer = Producer({**config, "error_cb": seen.append, "log_level": 0})
    deadline = time.monotonic() + DEADLINE_S
    while not seen and time.monotonic() < deadline:
        producer.poll(0.1)
    assert seen, f"no error reported within {DEADLINE_S}s"
    return seen[0]


@pytest.mark.kafka
@pytest.mark.slow
def test_a_client_without_credentials_is_refused(secure):
    started = time.monotonic()
    plain = _errors_of({"bootstrap.servers": secure.bootstrap})
    # The SASL_SSL listener closes a connection that does not start TLS, at the first request.
    assert plain.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN), plain
    assert "closed" in plain.str() or "down" in plain.str(), plain.str()
    # TLS but a wrong password: the broker's SCRAM exchange refuses it, by name.
    wrong = KafkaSecurity.scram("ingest", "not-the-password", ca_file=secure.ca_pem)
    refused = _errors_of({"bootstrap.servers": secure.bootstrap, **wrong.client_config()})
    assert refused.code() == KafkaError._AUTHENTICATION and "invalid credentials" in refused.str(), refused.str()
    # A client that does not trust the broker's CA refuses the handshake itself.
    untrusted = _errors_of(
        {"bootstrap.servers": secure.bootstrap, **KafkaSecurity.scram("ingest", "x").client_config()}
    )
    assert untrusted.code() in (KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN), untrusted
    assert time.monotonic() - started < DEADLINE_S


@pytest.mark.kafka
@pytest.mark.slow
def test_ingest_cannot_read_reads(secure):
    consumer = Consumer(
        consumer_config(secure.bootstrap, f"alpr-ingest-test-{uuid.uuid4().hex[:8]}", "t", secure.security("ingest"))
    )
    consumer.subscribe([Topic.READS.value])
    try:
        deadline = time.monotonic() + DEADLINE_S
        error = None
        while error is None and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error():
                error = msg.error()
        assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error
    finally:
        consumer.close()


def _deliver(producer: Producer, topic: str, key: bytes) -> KafkaError | None:
    outcome: list = []
    producer.produce(topic, b"v", key=key, on_delivery=lambda err, msg: outcome.append(err))
    deadline = time.monotonic() + DEADLINE_S
    while not outcome and time.monotonic() < deadline:
        producer.poll(0.1)
    assert outcome, f"no delivery report within {DEADLINE_S}s"
    return outcome[0]


@pytest.mark.kafka
@pytest.mark.slow
def test_occupancy_cannot_write_frames(secure):
    producer = Producer(producer_config(secure.bootstrap, "t", secure.security("occupancy"), **{"linger.ms": 0}))
    err = _deliver(producer, Topic.FRAMES.value, b"cam-1")
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err


@pytest.mark.kafka
@pytest.mark.slow
def test_ingest_writes_frames_and_the_recognizer_reads_them(secure):
    key = uuid.uuid4().hex.encode()
    producer = Producer(producer_config(secure.bootstrap, "t", secure.security("ingest"), **{"linger.ms": 0}))
    assert _deliver(producer, Topic.FRAMES.value, key) is None
    consumer = Consumer(
        consumer_config(
            secure.bootstrap, f"alpr-recognizer-test-{key[:8].decode()}", "t", secure.security("recognizer")
        )
    )
    consumer.subscribe([Topic.FRAMES.value])
    try:
        deadline = time.monotonic() + DEADLINE_S
        found = None
        while found is None and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None:
                assert not msg.error(), msg.error()
                found = msg if msg.key() == key else None
        assert found is not None, "the recognizer did not read the frame ingest wrote"
        # Its group may commit (READ on its group prefix).
        assert consumer.commit(message=found, asynchronous=False)[0].error is None
    finally:
        consumer.close()


@pytest.mark.kafka
@pytest.mark.slow
def test_applying_acls_twice_is_a_no_op(secure):
    again = apply_acls(secure.bootstrap, security=secure.security("admin"))
    assert again.created == [] and again.extra == [] and again.skipped is None
    assert set(again.unchanged) == service_grants()
    printed = run_cli("topics", "apply", env=secure.admin_env)
    assert printed.returncode == 0 and f"acls      0 created, {len(again.unchanged)} unchanged" in printed.stdout


@pytest.mark.kafka
@pytest.mark.slow
def test_a_service_cannot_apply_acls_and_a_plaintext_broker_skips_them(secure, dev_bootstrap):
    from alpr.errors import BrokerError

    with pytest.raises(BrokerError, match="AUTHORIZATION_FAILED"):
        apply_acls(secure.bootstrap, security=secure.security("ingest"))
    assert apply_acls(dev_bootstrap, security=KafkaSecurity()).skipped


@pytest.mark.kafka
@pytest.mark.slow
def test_faust_credentials_reach_the_secure_broker_and_faust_topics_are_the_services_own(secure):
    from aiokafka import AIOKafkaProducer
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    # What faust.App(broker_credentials=...) hands aiokafka: a revenue producer writes matches.
    auth = credentials_to_aiokafka_auth(faust_credentials(secure.security("revenue")))

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=secure.bootstrap, **auth)
        await producer.start()
        try:
            await asyncio.wait_for(producer.send_and_wait(Topic.REVENUE_MATCHES.value, b"m", key=b"s"), DEADLINE_S)
        finally:
            await producer.stop()

    asyncio.run(send())
    assert faust_credentials(KafkaSecurity()) is None
    # revenue creates its own re-key/changelog topics under its app id, and nothing else.
    admin = AdminClient(admin_config(secure.bootstrap, secure.security("revenue")))
    mine = f"alpr-revenue-test-{uuid.uuid4().hex[:8]}-changelog"
    admin.create_topics([NewTopic(mine, 1, 1)])[mine].result(timeout=DEADLINE_S)
    theirs = f"alpr-occupancy-test-{uuid.uuid4().hex[:8]}-changelog"
    with pytest.raises(Exception, match="TOPIC_AUTHORIZATION_FAILED|uthoriz"):
        admin.create_topics([NewTopic(theirs, 1, 1)])[theirs].result(timeout=DEADLINE_S)


# -- mutual TLS: the service's certificate is its principal ----------------------------------
@pytest.mark.kafka
@pytest.mark.slow
def test_mutual_tls_refuses_a_client_without_a_certificate(secure):
    # TLS that trusts the broker but presents no certificate: the broker ends the handshake.
    anonymous = _errors_of(
        {"bootstrap.servers": secure.mtls_bootstrap, "security.protocol": "SSL", "ssl.ca.location": str(secure.ca_pem)}
    )
    assert anonymous.code() in (KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN), anonymous
    # The SCRAM listener's way in does not open this one either.
    scram = _errors_of({"bootstrap.servers": secure.mtls_bootstrap, **secure.security("ingest").client_config()})
    assert scram.code() in (KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN), scram


@pytest.mark.kafka
@pytest.mark.slow
def test_a_services_certificate_carries_exactly_its_acls(secure, monkeypatch):
    import os
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the local broker makes no client certificates")

    # The settings a deployment gives (ALPR_KAFKA_SECURITY_PROTOCOL=SSL, CA, certificate, key).
    for k in list(os.environ):
        if k.startswith("ALPR_KAFKA_"):
            monkeypatch.delenv(k)
    for k, v in secure.mtls_env("ingest").items():
        monkeypatch.setenv(k, v)
    ingest = KafkaSecurity.from_settings(load_settings(CommonSettings))
    assert ingest.protocol == "SSL" and ingest.username is None
    producer = Producer(producer_config(secure.mtls_bootstrap, "t", ingest, **{"linger.ms": 0}))
    assert _deliver(producer, Topic.FRAMES.value, uuid.uuid4().hex.encode()) is None  # User:ingest writes frames
    denied = _deliver(producer, Topic.READS.value, b"k")
    assert denied is not None and denied.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, denied
    # occupancy by certificate, through faust's credentials (aiokafka): writes passes, not frames.
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import TopicAuthorizationFailedError
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    auth = credentials_to_aiokafka_auth(faust_credentials(secure.mtls_security("occupancy")))

    async def send() -> None:
        aio = AIOKafkaProducer(bootstrap_servers=secure.mtls_bootstrap, **auth)
        await aio.start()
        try:
            await asyncio.wait_for(aio.send_and_wait(Topic.PASSES.value, b"p", key=b"k"), DEADLINE_S)
            with pytest.raises(TopicAuthorizationFailedError):
                await asyncio.wait_for(aio.send_and_wait(Topic.FRAMES.value, b"f", key=b"k"), DEADLINE_S)
        finally:
            await aio.stop()

    asyncio.run(send())


def test_secret_str_for_environment_passwords():
    sec = KafkaSecurity("SASL_SSL", username="u", password=SecretStr("pw-in-env"))
    assert "pw-in-env" not in repr(sec) and sec.client_config()["sasl.password"] == "pw-in-env"
