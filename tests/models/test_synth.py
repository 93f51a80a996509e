"""Synthetic data: deterministic by seed, labels that describe what was drawn."""

import csv
import os

import numpy as np

from alpr.plates import correct_format, normalize, pattern_of
from alpr.synth import (
    CLEAN,
    HARD,
    STYLES,
    Conditions,
    render_plate,
    render_scene,
    write_crops_dataset,
    write_detection_dataset,
    write_openalpr_testset,
)
from alpr.synth.datasets import detection_scene
from alpr.synth.plate import PLATE_H, PLATE_W, random_plate_text


def test_same_seed_same_scene_and_labels():
    a = render_scene(np.random.default_rng(42), 640, 480, 3)
    b = render_scene(np.random.default_rng(42), 640, 480, 3)
    assert np.array_equal(a.image, b.image)
    assert a.plates == b.plates
    c = render_scene(np.random.default_rng(43), 640, 480, 3)
    assert not np.array_equal(a.image, c.image)


def test_render_plate_is_deterministic_and_canonical_size():
    style = STYLES[0]
    a = render_plate("8ABC123", style, np.random.default_rng(1))
    b = render_plate("8ABC123", style, np.random.default_rng(1))
    assert a.shape == (PLATE_H, PLATE_W, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, render_plate("8ABC124", style, np.random.default_rng(1)))


def test_boxes_inside_frame_disjoint_and_plate_shaped():
    for seed in range(12):
        conditions = HARD if seed % 2 else Conditions()
        scene = render_scene(np.random.default_rng(seed), 1280, 720, 1 + seed % 6, conditions)
        h, w = scene.image.shape[:2]
        assert scene.image.shape == (720, 1280, 3)
        assert len(scene.plates) == 1 + seed % 6
        for i, p in enumerate(scene.plates):
            x, y, bw, bh = p.box
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
            assert conditions.plate_width[0] * 0.5 <= bw <= conditions.plate_width[1] * 1.1
            assert 0.9 < bw / bh < 4.0
            for q in scene.plates[i + 1 :]:
                qx, qy, qw, qh = q.box
                assert x + bw <= qx or qx + qw <= x or y + bh <= qy or qy + qh <= y


def test_box_covers_exactly_the_drawn_plate():
    # With every camera effect off, the rendered frame differs from the same frame without
    # plates only inside the labelled boxes (give or take the one anti-aliased pixel of the
    # warp), each box is mostly plate, and every edge of a box is within a pixel of the
    # plate (boxes are the integer rectangle around the plate's corner points).
    rng_state = 7
    scene = render_scene(np.random.default_rng(rng_state), 800, 600, 4, CLEAN)
    bare = render_scene(np.random.default_rng(rng_state), 800, 600, 4, CLEAN, draw_plates=False)
    diff = np.abs(scene.image.astype(int) - bare.image.astype(int)).sum(axis=2) > 0
    inside = np.zeros_like(diff)
    for p in scene.plates:
        x, y, bw, bh = p.box
        inside[max(0, y - 1) : y + bh + 1, max(0, x - 1) : x + bw + 1] = True
        region = diff[y : y + bh, x : x + bw]
        assert region.mean() > 0.5
        assert region[:2].any() and region[-2:].any() and region[:, :2].any() and region[:, -2:].any()
    assert not diff[~inside].any()


def test_texts_follow_formats_or_are_stable_vanity():
    rng = np.random.default_rng(3)
    for _ in range(300):
        style = STYLES[int(rng.integers(len(STYLES)))]
        text = random_plate_text(style, rng)
        assert text == normalize(text) and 2 <= len(text) <= 8
        assert pattern_of(text) is not None or correct_format(text) == text


def test_detection_dataset_labels_match_scenes(tmp_path):
    write_detection_dataset(str(tmp_path), 4, seed=77)
    for i in range(4):
        scene = detection_scene(77, i)
        h, w = scene.image.shape[:2]
        lines = (tmp_path / "labels" / f"77_{i:06d}.txt").read_text().split("\n")
        rows = [list(map(float, line.split()[1:])) for line in lines if line]
        assert len(rows) == len(scene.plates)
        for (cx, cy, bw, bh), p in zip(rows, scene.plates):
            x, y, pw, ph = p.box
            assert abs(cx * w - (x + pw / 2)) < 0.01 and abs(bw * w - pw) < 0.01
            assert abs(cy * h - (y + ph / 2)) < 0.01 and abs(bh * h - ph) < 0.01
        assert os.path.exists(tmp_path / "images" / f"77_{i:06d}.jpg")


def test_crops_dataset_is_reproducible(tmp_path):
    a = write_crops_dataset(str(tmp_path / "a"), 6, seed=5)
    b = write_crops_dataset(str(tmp_path / "b"), 6, seed=5)
    rows_a = list(csv.DictReader(open(a)))
    assert rows_a == list(csv.DictReader(open(b)))
    assert len(rows_a) == 6 and all(r["plate_text"] == normalize(r["plate_text"]) for r in rows_a)
    for r in rows_a:
        assert (tmp_path / "a" / r["image_path"]).read_bytes() == (tmp_path / "b" / r["image_path"]).read_bytes()


def test_openalpr_testset_lines(tmp_path):
    write_openalpr_testset(str(tmp_path), 3, seed=31337)
    for i in range(3):
        lines = (tmp_path / f"{i:05d}.txt").read_text().strip().split("\n")
        assert 1 <= len(lines) <= 4
        for line in lines:
            name, x, y, w, h, plate = line.split("\t")
            assert name == f"{i:05d}.jpg" and int(w) > 0 and int(h) > 0 and plate == normalize(plate)


def test_training_data_of_the_committed_weights_is_pinned():
    # The committed weights were trained on sets rendered with seeds 1000 and 1002 (detector
    # stages 1-2) and 2000-2008 (reader); the first of each is pinned here. A change to the generator that alters these first items means
    # `alpr train` no longer reproduces them: retrain and update MODEL_CARD.md, or keep
    # the old behaviour for the TRAIN conditions (as `occluder_reach` does).
    import hashlib

    from alpr.synth.datasets import plate_crop

    scene = detection_scene(1000, 0)
    assert [p.text for p in scene.plates] == ["47J8001", "YHF1386", "0NHU534"]
    assert scene.plates[1].box == (358, 423, 106, 59)
    assert hashlib.sha256(scene.image.tobytes()).hexdigest()[:16] == "bd14442f799d9181"
    crop, text = plate_crop(2000, 0)
    assert text == "OJJ3767"
    assert hashlib.sha256(crop.tobytes()).hexdigest()[:16] == "354c7975846fb1a8"
