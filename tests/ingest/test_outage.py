"""Kafka away, Kafka slow, Kafka back; a camera stream that does not answer.

What is tested, honestly: "Kafka away" is a producer pointed at a port that refuses
connections. "Kafka back" is the same port turned into a TCP forwarder to the real broker
(no second broker is needed): the service is not restarted, and librdkafka's reconnect
picks it up. "Kafka slow" is the same outage seen through a tiny queue: uploads get 503 +
Retry-After at once, live-stream frames drop oldest and are counted, and after the broker
returns exactly the frames the policy kept are in the topic.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from alpr.contracts.registry import Topic, decode
from services.ingest.frame import Frame
from services.ingest.main import build_service
from tests.ingest.conftest import (
    START,
    UPLOAD_TOKEN,
    Proxy,
    closed_port,
    jpeg,
    ops_auth,
    read_topic,
    registry,
    settings,
)
from tests.support.kafka import SUITE_BOOTSTRAP
from tests.support.waiting import wait_for

FRAMES = Topic.FRAMES.contract
AUTH = {"X-Camera-Id": "cam-up", "Authorization": f"Bearer {UPLOAD_TOKEN}", "Content-Type": "image/jpeg"}
FAST_RECONNECT = {"reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 100}


def frames_total(source: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "alpr_ingest_frames_total", {"service": "ingest", "source": source, "outcome": outcome}
        )
        or 0
    )


def test_with_kafka_unreachable_uploads_get_503_and_health_says_why():
    with closed_port() as refused:
        port = refused.getsockname()[1]
        svc = build_service(
            settings(f"127.0.0.1:{port}", delivery_timeout_s=1.0, upload_retry_after_s=7),
            registry(),
            producer_extra=FAST_RECONNECT,
        )
        try:
            client = TestClient(svc.app)
            failed = frames_total("upload", "failed")
            r = client.post("/v1/frames", content=jpeg(), headers=AUTH)
            assert r.status_code == 503 and r.headers["Retry-After"] == "7", r.text
            assert "frame not stored" in r.json()["detail"]
            assert frames_total("upload", "failed") == failed + 1
            health = wait_for(
                lambda: (h := client.get("/healthz")).status_code == 503 and h.json(), what="kafka check red"
            )
            assert health["checks"] == {"kafka": False, "workers": True, "revocations": False}
        finally:
            svc.close()


def test_unreachable_stream_backs_off_exponentially_and_is_observable(caplog):
    with closed_port() as refused:
        url = f"rtsp://user:secret@127.0.0.1:{refused.getsockname()[1]}/x"
        svc = build_service(
            settings(SUITE_BOOTSTRAP, reconnect_initial_s=0.05, reconnect_max_s=0.2, stream_open_timeout_s=1),
            registry(stream_url=url),
        )
        reconnects = REGISTRY.get_sample_value("alpr_ingest_source_reconnects_total", {"service": "ingest"}) or 0
        client = TestClient(svc.app)
        try:
            with caplog.at_level(logging.WARNING, logger="services.ingest.feed"):
                svc.start_feeds()
                rtsp = wait_for(
                    lambda: next(
                        (
                            s
                            for s in client.get("/v1/sources", headers=ops_auth()).json()["sources"]
                            if s["camera_id"] == "cam-rtsp" and s["failures"] >= 4
                        ),
                        None,
                    ),
                    what="four failed connects",
                )
            assert client.get("/healthz").json()["checks"]["workers"] is True  # the service itself keeps running
            # The camera's password shows nowhere: status page (source and error), health, logs.
            assert "secret" not in client.get("/v1/sources", headers=ops_auth()).text
            assert "secret" not in client.get("/healthz").text
            assert client.get("/v1/sources").status_code == 401
            assert client.get("/v1/sources", headers=ops_auth("finance")).status_code == 403
        finally:
            svc.close()
    assert rtsp["state"] == "backoff" and rtsp["kind"] == "stream"
    assert rtsp["source"] == f"rtsp://127.0.0.1:{url.rsplit(':', 1)[1]}"  # no credentials on the status page
    assert 0.2 * 0.8 <= rtsp["retry_in_s"] <= 0.2  # doubled from 0.05 up to the cap (with jitter)
    assert "cannot open stream" in rtsp["last_error"]
    assert REGISTRY.get_sample_value("alpr_ingest_source_reconnects_total", {"service": "ingest"}) >= reconnects + 4
    assert REGISTRY.get_sample_value("alpr_ingest_source_up", {"camera": "cam-rtsp"}) == 0
    lines = [r for r in caplog.records if r.getMessage() == "stream unavailable, reconnecting after backoff"]
    assert len(lines) >= 4 and [r.failures for r in lines[:3]] == [1, 2, 3]


@pytest.mark.kafka
def test_when_kafka_is_slow_nothing_is_lost_silently_and_ingest_resumes_when_it_returns(
    bootstrap, frames_topic, unique
):
    topic, prefix = frames_topic
    host, port = bootstrap.rsplit(":", 1)
    proxy = Proxy((host, int(port)))  # refuses until opened
    svc = build_service(
        settings(f"127.0.0.1:{proxy.port}", queue_frames=2, stream_buffer_frames=3, delivery_timeout_s=30),
        registry(stream_url="rtsp://127.0.0.1:1/unused"),
        topic_prefix=prefix,
        producer_extra=FAST_RECONNECT,
    )
    client = TestClient(svc.app)
    camera = svc.registry.camera("cam-rtsp")
    dropped = frames_total("stream", "dropped_overflow")
    try:
        # Eight live frames while Kafka is away: 2 fill the queue, 3 wait, the 3 oldest waiting are dropped.
        frames = [Frame(camera, START + timedelta(seconds=i), jpeg(seed=i)) for i in range(8)]
        for frame in frames:
            svc.publisher.offer(frame, "stream")
        assert (svc.publisher.in_flight, svc.publisher.buffered) == (2, 3)
        assert frames_total("stream", "dropped_overflow") == dropped + 3
        assert client.get("/v1/sources", headers=ops_auth()).json()["queue_frames"] == 2

        busy = client.post("/v1/frames", content=jpeg(), headers=AUTH)
        assert (
            busy.status_code == 503 and busy.headers["Retry-After"] == "2" and "not keeping up" in busy.json()["detail"]
        )

        proxy.open()  # the broker is back; the service is not restarted
        assert svc.publisher.wait_idle(30)
        r = client.post("/v1/frames", content=jpeg(seed=99), headers=AUTH)
        assert r.status_code == 201, r.text
    finally:
        svc.close()
        proxy.close()
    messages = read_topic(bootstrap, topic, 6, f"t-{unique}")
    ids = sorted(decode(FRAMES, None, m.headers()).frame_id for m in messages)
    kept = [frames[i].frame_id for i in (0, 1, 5, 6, 7)]
    assert ids == sorted(kept + [r.json()["frame_id"]])
    assert frames_total("stream", "published") >= 5


def test_a_feed_crash_turns_health_red():
    svc = build_service(settings(SUITE_BOOTSTRAP), registry())
    try:
        svc.workers.start("boom", lambda stop: (_ for _ in ()).throw(RuntimeError("feed bug")))
        client = TestClient(svc.app)
        wait_for(lambda: client.get("/healthz").json()["checks"]["workers"] is False, what="workers check red")
    finally:
        svc.close()
