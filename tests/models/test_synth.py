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


def test_a_footless_one_keeps_its_stem_and_flag_and_loses_only_its_foot():
    # Real US plates draw 1 as a bar and a flag; every DejaVu face adds a foot (alpr.synth.plate._drop_feet).
    from PIL import Image, ImageDraw

    from alpr.synth.fonts import PLATE_FONTS, font
    from alpr.synth.plate import _drop_feet

    for name in PLATE_FONTS:
        fnt = font(name, 120)
        img = Image.new("L", (600, 180), 0)
        d = ImageDraw.Draw(img)
        d.text((20, 10), "A1B1", font=fnt, fill=255)
        mask = np.asarray(img)
        out = _drop_feet(mask, "A1B1", fnt, d, (20, 10))
        left, top, right, bottom = fnt.getbbox("1")
        changed = np.argwhere(out != mask)
        assert len(changed), name  # the font had a foot to take
        # Only inside the two 1s' bottom fifth, never in A or B, never the stem or the flag.
        h = bottom - top
        assert changed[:, 0].min() >= 10 + top + int(h * 0.8) - 1, name
        for x in (20 + d.textlength("A", font=fnt), 20 + d.textlength("A1B", font=fnt)):
            glyph = out[10 + top : 10 + bottom, int(x + left) : int(np.ceil(x + right))]
            stem = (glyph[int(h * 0.4) : int(h * 0.6)] > 127).any(axis=0)
            assert not (glyph[int(h * 0.8) :, ~stem] > 0).any(), name  # no ink left beside the stem
            assert (glyph[int(h * 0.8) :, stem] > 127).any(), name  # the stem reaches the baseline
        untouched = Image.new("L", (600, 180), 0)
        du = ImageDraw.Draw(untouched)
        du.text((20, 10), "ABC", font=fnt, fill=255)
        assert np.array_equal(_drop_feet(np.asarray(untouched), "ABC", fnt, du, (20, 10)), np.asarray(untouched))


def test_footless_ones_are_drawn_only_where_the_conditions_ask_for_them():
    from dataclasses import replace

    from alpr.synth.scene import CONDITIONS, TRAIN, TRAIN_REAL_ONES

    style = STYLES[0]
    footed = render_plate("8ABC111", style, np.random.default_rng(1))
    # The default draws no extra random number: the sets rendered before stay bit-identical
    # (the pinned test above checks the committed weights' data).
    assert np.array_equal(footed, render_plate("8ABC111", style, np.random.default_rng(1), one_foot_p=1.0))
    assert not np.array_equal(footed, render_plate("8ABC111", style, np.random.default_rng(1), one_foot_p=0.0))
    assert CONDITIONS["train-real-ones"] is TRAIN_REAL_ONES and TRAIN_REAL_ONES == replace(TRAIN, one_foot_p=0.25)
    assert CONDITIONS["train"].one_foot_p == CONDITIONS["hard"].one_foot_p == 1.0
    a = render_scene(np.random.default_rng(5), 640, 480, 2, TRAIN_REAL_ONES)
    b = render_scene(np.random.default_rng(5), 640, 480, 2, TRAIN_REAL_ONES)
    assert np.array_equal(a.image, b.image) and a.plates == b.plates
