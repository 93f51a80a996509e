"""Demo footage: readable videos, ground truth that matches them, deterministic by seed."""

from __future__ import annotations

import json

import cv2
import numpy as np

from services.ingest.footage import render_footage

SMALL = dict(vehicles=6, minutes=0.5, fps=4, width=320, height=180)


def test_footage_videos_and_ground_truth_agree(tmp_path):
    footage = render_footage(tmp_path / "a", seed=3, **SMALL)
    assert [p.name for p in footage.videos] == ["cam-g1-entry-1.mp4", "cam-g1-exit-1.mp4"]
    for video in footage.videos:
        capture = cv2.VideoCapture(str(video))
        assert capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 120
        assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FPS)) == (320, 4)
    truth = [json.loads(line) for line in footage.ground_truth.read_text().splitlines()]
    assert len(truth) == footage.passes >= 4
    entries = [t for t in truth if t["direction"] == "entry"]
    exits = [t for t in truth if t["direction"] == "exit"]
    assert entries and {t["camera_id"] for t in entries} == {"cam-g1-entry-1"}
    assert {t["plate"] for t in exits} <= {t["plate"] for t in entries}  # nobody leaves without entering
    for t in truth:
        assert t["frame_first"] <= t["t_stop_s"] * 4 <= t["frame_last"] and t["box"][2] > 0
        assert t["captured_at"].startswith("2026-11-26T06:00:") and t["facility_id"] == "garage-1"


def test_same_seed_same_footage_and_the_plate_artist_is_injectable(tmp_path):
    drawn = []

    def artist(text, rng):
        drawn.append(text)
        return np.full((90, 180, 3), 255, np.uint8)

    a = render_footage(
        tmp_path / "a", seed=5, namer=lambda rng: f"T{int(rng.integers(10**5)):05d}", artist=artist, **SMALL
    )
    b = render_footage(
        tmp_path / "b", seed=5, namer=lambda rng: f"T{int(rng.integers(10**5)):05d}", artist=artist, **SMALL
    )
    c = render_footage(tmp_path / "c", seed=6, **SMALL)
    assert a.ground_truth.read_text() == b.ground_truth.read_text() != c.ground_truth.read_text()
    assert drawn and all(t.startswith("T") for t in drawn)
    assert {json.loads(l)["plate"] for l in a.ground_truth.read_text().splitlines()} <= set(drawn)
