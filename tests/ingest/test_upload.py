"""POST /v1/frames against the real broker: 201 only after delivery, a clear 4xx for every bad input."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from alpr.contracts.registry import Topic, decode
from alpr.kafka.config import client_config
from services.ingest.main import build_service
from tests.ingest.conftest import UPLOAD_TOKEN, jpeg, ops_auth, registry, settings
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka
FRAMES = Topic.FRAMES.contract
AUTH = {"X-Camera-Id": "cam-up", "Authorization": f"Bearer {UPLOAD_TOKEN}", "Content-Type": "image/jpeg"}


@pytest.fixture
def service(bootstrap, frames_topic):
    _, prefix = frames_topic
    svc = build_service(settings(bootstrap, upload_max_bytes=200_000), registry(), topic_prefix=prefix)
    yield svc
    svc.close()


def message_at(bootstrap, topic, partition, offset, group):
    consumer = Consumer(client_config(bootstrap, **{"group.id": group, "enable.auto.commit": False}))
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        for _ in range(40):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                return msg
    finally:
        consumer.close()
    return None


def test_an_upload_is_answered_after_kafka_has_it(bootstrap, service, frames_topic, unique):
    topic, _ = frames_topic
    body = jpeg(seed=7)
    client = TestClient(service.app)
    r = client.post("/v1/frames", content=body, headers={**AUTH, "X-Captured-At": "2026-11-25T07:15:00.250Z"})
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["frame_id"] == "cam-up:1795590900250" and answer["topic"] == topic and answer["offset"] >= 0
    # The answer names where Kafka wrote it: the message is there, untouched, with the contract headers.
    msg = message_at(bootstrap, topic, answer["partition"], answer["offset"], f"t-{unique}")
    assert msg is not None and msg.value() == body and msg.key() == b"cam-up"
    headers = decode(FRAMES, None, msg.headers())
    assert (headers.frame_id, headers.direction, headers.facility_id) == ("cam-up:1795590900250", "patrol", "g1")
    # Without X-Captured-At the arrival time is the capture time.
    r2 = client.post("/v1/frames", content=body, headers=AUTH)
    assert r2.status_code == 201 and r2.json()["frame_id"].startswith("cam-up:")


def rejected() -> float:
    return (
        REGISTRY.get_sample_value(
            "alpr_ingest_frames_total", {"service": "ingest", "source": "upload", "outcome": "rejected"}
        )
        or 0
    )


def test_bad_uploads_get_a_clear_4xx_and_the_service_keeps_running(service):
    client = TestClient(service.app)
    good = jpeg()
    before = rejected()
    cases = [
        ({**AUTH, "X-Camera-Id": "cam-nobody"}, good, 404, "unknown camera"),
        ({k: v for k, v in AUTH.items() if k != "X-Camera-Id"}, good, 400, "X-Camera-Id"),
        ({**AUTH, "Authorization": "Bearer wrong-token"}, good, 401, "upload token"),
        ({k: v for k, v in AUTH.items() if k != "Authorization"}, good, 401, "upload token"),
        ({**AUTH, "X-Camera-Id": "cam-nopush"}, good, 403, "no upload token"),
        ({**AUTH, "Content-Type": "text/plain"}, good, 415, "image/jpeg"),
        (AUTH, b"hello, not an image", 400, "not a JPEG"),
        (AUTH, good[: len(good) // 2], 400, "truncated JPEG"),
        (AUTH, b"", 400, "empty body"),
        (AUTH, b"\xff\xd8" + b"\x00" * 300_000, 413, "200000-byte limit"),
        ({**AUTH, "X-Captured-At": "yesterday"}, good, 400, "RFC 3339"),
        ({**AUTH, "X-Captured-At": "2026-11-26T06:00:00"}, good, 400, "RFC 3339"),  # no zone
        ({**AUTH, "X-Captured-At": "2999-01-01T00:00:00Z"}, good, 400, "in the future"),
    ]
    for headers, body, status, reason in cases:
        r = client.post("/v1/frames", content=body, headers=headers)
        assert (r.status_code, reason in r.json()["detail"]) == (status, True), (headers, r.text)
    assert (
        client.post("/v1/frames", content=b"x", headers=AUTH | {"Authorization": "x"}).headers["WWW-Authenticate"]
        == "Bearer"
    )
    assert rejected() - before == len(cases) + 1

    # A chunked body carries no Content-Length: the limit is enforced while reading.
    def chunks():
        yield b"\xff\xd8"
        for _ in range(30):
            yield b"\x00" * 10_000

    r = client.post("/v1/frames", content=chunks(), headers=AUTH)
    assert r.status_code == 413
    wait_for(lambda: client.get("/healthz").json()["ready"], what="ingest ready (revocations read)")
    assert client.post("/v1/frames", content=good, headers=AUTH).status_code == 201
    sources = client.get("/v1/sources", headers=ops_auth()).json()["sources"]
    assert {"camera_id": "cam-up", "kind": "upload", "state": "push"}.items() <= sources[0].items()
