"""The whole service: feeds from the registry in worker threads next to the upload API."""

from __future__ import annotations

import os

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from alpr.contracts.registry import Topic, decode
from alpr_app.demo.stack import ServiceProcess
from services.ingest.main import build_service
from tests.conftest import REPO
from tests.ingest.conftest import UPLOAD_TOKEN, hash_token, jpeg, ops_auth, read_topic, registry, settings, write_video
from tests.support.kafka import suite_security_env
from tests.support.net import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka
FRAMES = Topic.FRAMES.contract


def test_file_feed_and_uploads_share_one_service(bootstrap, frames_topic, tmp_path, unique):
    topic, prefix = frames_topic
    video = write_video(tmp_path / "lane.mp4", frames=16)
    svc = build_service(settings(bootstrap, motion_threshold=0), registry(str(video)), topic_prefix=prefix)
    client = TestClient(svc.app)
    try:
        svc.start_feeds()
        upload = client.post(
            "/v1/frames",
            content=jpeg(),
            headers={"X-Camera-Id": "cam-up", "Authorization": f"Bearer {UPLOAD_TOKEN}", "Content-Type": "image/jpeg"},
        )
        assert upload.status_code == 201
        status = wait_for(
            lambda: next(
                (
                    s
                    for s in client.get("/v1/sources", headers=ops_auth()).json()["sources"]
                    if s["camera_id"] == "cam-file" and s["state"] == "finished"
                ),
                None,
            ),
            what="file feed finished",
        )
        assert status["frames_seen"] == status["frames_selected"] == 16 and status["kind"] == "file"
        assert svc.publisher.wait_idle(10)
        file_status = client.get("/v1/sources", headers=ops_auth()).json()["sources"][0]
        assert file_status["camera_id"] == "cam-file" and file_status["counts"]["published"] == 16
        # The revocations feed reads its whole topic in a thread of its own: ready once it has
        # (under load that can come after the file feed finished), and then everything is green.
        health = wait_for(lambda: (h := client.get("/healthz").json())["ready"] and h, what="ingest ready")
        assert health == {
            "service": "ingest",
            "ready": True,
            "checks": {"kafka": True, "workers": True, "revocations": True},
        }
        metrics = client.get("/metrics").text
        assert 'alpr_ingest_frames_total{outcome="published",service="ingest",source="file"}' in metrics
        assert 'alpr_ingest_camera_frames_seen{camera="cam-file"} 16.0' in metrics
    finally:
        svc.close()
    cameras = sorted(
        decode(FRAMES, None, m.headers()).camera_id for m in read_topic(bootstrap, topic, 17, f"t-{unique}")
    )
    assert cameras == ["cam-file"] * 16 + ["cam-up"]


def test_serve_command_starts_serves_and_stops_on_sigterm(bootstrap, frames_topic, tmp_path):
    _, prefix = frames_topic
    # This registry has only an upload camera: nothing is sent.
    cameras = tmp_path / "cameras.yaml"
    cameras.write_text(
        yaml.safe_dump(
            {
                "facilities": [{"facility_id": "g1", "capacity": 5}],
                "cameras": [
                    {
                        "camera_id": "cam-up",
                        "facility_id": "g1",
                        "lane": "P1",
                        "direction": "patrol",
                        "upload_token_sha256": hash_token(UPLOAD_TOKEN),
                    }
                ],
            }
        )
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPR_")}
    env.update(suite_security_env())
    env.update(
        {
            "ALPR_KAFKA_BOOTSTRAP": bootstrap,
            "ALPR_CAMERAS_FILE": str(cameras),
            "ALPR_INGEST_HTTP_PORT": str(port),
            "ALPR_TOPIC_PREFIX": prefix,
        }
    )
    service = ServiceProcess.spawn("ingest", ["ingest", "serve"], env, port, tmp_path / "ingest.log", REPO)
    try:
        service.wait_healthy(30)
        r = httpx.post(
            f"{service.url}/v1/frames",
            content=b"not a jpeg",
            timeout=5,
            headers={"X-Camera-Id": "cam-up", "Authorization": f"Bearer {UPLOAD_TOKEN}", "Content-Type": "image/jpeg"},
        )
        assert r.status_code == 400
        sources = httpx.get(f"{service.url}/v1/sources", timeout=5, headers=ops_auth()).json()
        assert [s["camera_id"] for s in sources["sources"]] == ["cam-up"]
    finally:
        code = service.terminate(30)
    err = service.log_tail(100_000)
    assert code == 0, err
    assert '"msg": "upload refused"' in err and '"service": "ingest"' in err  # JSON-lines logs
    assert '"msg": "ingest stopped", "undelivered": 0' in err  # the publisher was flushed before exit
