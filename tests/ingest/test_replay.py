"""Files to alpr.frames.v1 against the real broker: every frame, the right key and headers, bad files counted."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import cv2
import numpy as np
import pytest

from alpr.contracts.models import utc_iso
from alpr.contracts.registry import Topic, decode
from alpr.settings import REPO_ROOT
from services.ingest.frame import epoch_ms
from services.ingest.main import make_feed
from services.ingest.publisher import Publisher
from services.ingest.sources import SourceError, video_file
from tests.conftest import run_cli
from tests.ingest.conftest import START, jpeg, read_topic, registry, settings, write_video

pytestmark = pytest.mark.kafka
FRAMES = Topic.FRAMES.contract
REPO_DEMO = REPO_ROOT / "infra" / "cameras.demo.yaml"


def replay(bootstrap, topic, reg, select=True):
    publisher = Publisher(bootstrap, topic, queue_frames=8).start()  # small queue: the file must wait, not drop
    feed = make_feed(settings(bootstrap), reg, reg.camera("cam-file"), publisher, select=select)
    try:
        feed.run(threading.Event())
        assert publisher.wait_idle(30)
    finally:
        assert publisher.close(10) == 0
    return feed


def test_a_video_of_n_frames_ends_as_n_frames_in_the_topic(bootstrap, frames_topic, tmp_path, unique):
    topic, _ = frames_topic
    video = write_video(tmp_path / "lane.mp4", frames=40, fps=4)
    feed = replay(bootstrap, topic, registry(str(video)), select=False)
    assert feed.status.state == "finished" and feed.tally["published"] == 40 and feed.tally["seen"] == 40

    messages = read_topic(bootstrap, topic, 40, f"t-{unique}")
    assert len(messages) == 40
    assert {m.key() for m in messages} == {b"cam-file"} and len({m.partition() for m in messages}) == 1
    headers = [decode(FRAMES, None, m.headers()) for m in messages]
    expected_ids = [f"cam-file:{epoch_ms(START + timedelta(seconds=i / 4))}" for i in range(40)]
    assert [h.frame_id for h in headers] == expected_ids  # in capture order, ids from the file's clock
    assert headers[4].captured_at == START + timedelta(seconds=1)
    assert {(h.facility_id, h.lane, h.direction, h.content_type) for h in headers} == {
        ("g1", "L1", "entry", "image/jpeg")
    }
    assert all(h.ingested_at >= h.captured_at for h in headers)
    first = cv2.imdecode(np.frombuffer(messages[0].value(), np.uint8), cv2.IMREAD_COLOR)
    assert first.shape == (180, 320, 3)


def test_selection_sends_motion_and_counts_the_rest(bootstrap, frames_topic, tmp_path, unique):
    topic, _ = frames_topic
    still = write_video(tmp_path / "empty-lane.mp4", frames=20, fps=4, moving=False)
    feed = replay(bootstrap, topic, registry(str(still)))
    assert dict(feed.tally) == {"seen": 20, "selected": 1, "skipped_still": 19, "published": 1}
    assert len(read_topic(bootstrap, topic, 1, f"t-{unique}")) == 1


def test_an_image_folder_skips_a_corrupt_image_and_counts_it(bootstrap, frames_topic, tmp_path, unique):
    topic, _ = frames_topic
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i:03d}.jpg").write_bytes(jpeg(seed=i))
    (folder / "002.jpg").write_bytes(b"\xff\xd8 broken")
    feed = replay(bootstrap, topic, registry(str(folder), fps_cap=2), select=False)
    assert feed.kind == "folder" and feed.tally["error"] == 1 and feed.tally["published"] == 4
    assert "002.jpg" in feed.status.last_error
    ids = [decode(FRAMES, None, m.headers()).frame_id for m in read_topic(bootstrap, topic, 4, f"t-{unique}")]
    assert ids == [f"cam-file:{epoch_ms(START) + ms}" for ms in (0, 500, 1500, 2000)]


@pytest.mark.parametrize("content", [b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 1000, None])
def test_a_corrupt_or_missing_video_is_a_counted_failure(bootstrap, frames_topic, tmp_path, content):
    topic, _ = frames_topic
    path = tmp_path / "broken.mp4"
    if content is not None:
        path.write_bytes(content)
    feed = replay(bootstrap, topic, registry(str(path)))
    assert feed.status.state == "failed" and feed.tally["error"] == 1 and feed.tally["published"] == 0
    assert ("cannot be decoded" if content else "does not exist") in feed.status.last_error


def test_a_truncated_video_publishes_what_it_has_and_says_it_ended_early(tmp_path):
    video = write_video(tmp_path / "lane.mp4", frames=40)
    data = video.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError):
        list(video_file(tmp_path / "cut.mp4", START))


def test_replay_command_prints_counts_and_fails_in_one_line_on_a_corrupt_file(
    bootstrap, frames_topic, tmp_path, unique
):
    topic, prefix = frames_topic
    video = write_video(tmp_path / "lane.mp4", frames=12)
    env = {"ALPR_KAFKA_BOOTSTRAP": bootstrap, "ALPR_CAMERAS_FILE": str(REPO_DEMO), "ALPR_LOG_LEVEL": "WARNING"}
    ok = run_cli(
        "ingest",
        "replay",
        "--camera",
        "cam-g1-entry-1",
        "--file",
        str(video),
        "--all-frames",
        "--topic-prefix",
        prefix,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    counts = json.loads(ok.stdout.strip().splitlines()[-1])
    assert counts["published"] == counts["seen"] == 12 and counts["failed"] == counts["undelivered"] == 0
    headers = decode(FRAMES, None, read_topic(bootstrap, topic, 12, f"t-{unique}")[0].headers())
    assert headers.captured_at.isoformat().startswith("2026-11-26T06:00:00")  # the camera's replay_start

    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    bad = run_cli(
        "ingest",
        "replay",
        "--camera",
        "cam-g1-entry-1",
        "--file",
        str(tmp_path / "bad.mp4"),
        "--topic-prefix",
        prefix,
        env=env,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("alpr ingest: error: video file")
    assert json.loads(bad.stdout.strip().splitlines()[-1])["error"] == 1


def test_frame_selection_keeps_every_ground_truth_plate_frame_of_the_demo_footage(
    bootstrap, frames_topic, tmp_path, unique
):
    from services.ingest.footage import render_footage

    topic, _ = frames_topic
    footage = render_footage(tmp_path, seed=4, vehicles=8, minutes=1.0, fps=4, width=640, height=360, start=START)
    truth = [json.loads(line) for line in footage.ground_truth.read_text().splitlines()]
    entries = {t["captured_at"] for t in truth if t["camera_id"] == "cam-g1-entry-1"}
    feed = replay(bootstrap, topic, registry(str(tmp_path / "cam-g1-entry-1.mp4"), fps_cap=4))
    assert feed.tally["skipped_still"] > 0  # the empty lane between vehicles is not sent
    published = {
        h.captured_at
        for h in (
            decode(FRAMES, None, m.headers())
            for m in read_topic(bootstrap, topic, feed.tally["published"], f"t-{unique}")
        )
    }
    assert entries and entries <= {utc_iso(t) for t in published}  # each vehicle's barrier frame reaches the recognizer
