"""A live HTTP (MJPEG) stream through FFmpeg: frames flow, and when the stream ends it is reopened."""

from __future__ import annotations

import functools
import threading
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from alpr.contracts.registry import Topic, decode
from services.ingest.main import build_service
from tests.ingest.conftest import jpeg, ops_auth, read_topic, registry, settings
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka
FRAMES = Topic.FRAMES.contract


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def mjpeg_url(tmp_path):
    """An HTTP camera serving 12 concatenated JPEGs (an MJPEG stream that ends, like a camera reboot)."""
    (tmp_path / "cam.mjpg").write_bytes(b"".join(jpeg(seed=i) for i in range(12)))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cam.mjpg"
    server.shutdown()
    server.server_close()


def test_a_stream_publishes_with_wall_clock_capture_times_and_reconnects_when_it_ends(
    bootstrap, frames_topic, mjpeg_url, unique
):
    topic, prefix = frames_topic
    started = datetime.now(UTC)
    svc = build_service(
        settings(bootstrap, motion_threshold=0, reconnect_initial_s=0.05, reconnect_max_s=0.1),
        registry(stream_url=mjpeg_url),
        topic_prefix=prefix,
    )
    client = TestClient(svc.app)
    try:
        svc.start_feeds()
        status = wait_for(
            lambda: next(
                (
                    s
                    for s in client.get("/v1/sources", headers=ops_auth()).json()["sources"]
                    if s["camera_id"] == "cam-rtsp" and s["reconnects"] >= 2 and s["frames_selected"] >= 2
                ),
                None,
            ),
            what="plays of the stream",
        )
        assert svc.publisher.wait_idle(10)
    finally:
        svc.close()
    assert status["kind"] == "stream" and status["last_error"] == "stream stopped delivering frames"
    # The stream arrives faster than real time: the camera's fps cap (5/s) keeps ids unique and the rate sane.
    assert status["frames_seen"] >= 24 and 2 <= status["frames_selected"] < status["frames_seen"]
    messages = read_topic(bootstrap, topic, status["frames_selected"], f"t-{unique}")
    headers = [decode(FRAMES, None, m.headers()) for m in messages]
    assert len({h.frame_id for h in headers}) == len(headers) >= 2
    assert all(started - timedelta(seconds=1) <= h.captured_at <= datetime.now(UTC) for h in headers)
    assert {h.camera_id for h in headers} == {"cam-rtsp"}
