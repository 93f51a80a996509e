"""`alpr synth composite`: labelled crops pasted over the plates of labelled frames.

The real sets are stood in for by small ones of the same layout (a crops CSV of synthetic
plates, dash-cam-like frames with YOLO boxes), so the test runs anywhere.
"""

from __future__ import annotations

import csv
import os

import cv2
import numpy as np

from alpr.synth.datasets import plate_crop
from alpr_app.cli import main
from alpr_app.models.evaluate import load_openalpr


def _real_sets(root: str, crops: int = 5) -> None:
    us = os.path.join(root, "plates-us-ocr-val")
    os.makedirs(os.path.join(us, "imgs"))
    rows = []
    for i in range(crops):
        crop, text = plate_crop(4242, i)
        cv2.imwrite(os.path.join(us, "imgs", f"{i}.png"), crop)
        rows.append((f"imgs/{i}.png", text))
    with open(os.path.join(us, "annotations.csv"), "w", newline="") as f:
        csv.writer(f).writerows([("image_path", "plate_text"), *rows])
    rng = np.random.default_rng(7)
    for split in ("train", "val"):
        os.makedirs(os.path.join(root, "plates-ro-detect", "images", split))
        os.makedirs(os.path.join(root, "plates-ro-detect", "labels", split))
        frame = rng.integers(0, 255, (720, 1280, 3), np.uint8)
        frame[400:425, 600:720] = 255  # a long, white "European plate" (120 x 25 px)
        cv2.imwrite(os.path.join(root, "plates-ro-detect", "images", split, "f.jpg"), frame)
        with open(os.path.join(root, "plates-ro-detect", "labels", split, "f.txt"), "w") as f:
            f.write(f"0 {660 / 1280} {412.5 / 720} {120 / 1280} {25 / 720}\n")


def test_composite_frames_carry_each_crop_at_its_labelled_box(tmp_path, capsys):
    _real_sets(str(tmp_path / "real"))
    out = tmp_path / "set"
    args = ["synth", "composite", "--out", str(out), "--datasets", str(tmp_path / "real"), "--seed", "3"]
    assert main(args) == 0
    assert "5 frames" in capsys.readouterr().out
    items = load_openalpr(str(out))
    labels = [r[1] for r in csv.reader(open(tmp_path / "real" / "plates-us-ocr-val" / "annotations.csv"))][1:]
    assert [it.plates[0][1] for it in items] == labels  # one frame per crop, in order, text kept
    for n, it in enumerate(items):
        frame = cv2.imread(it.path)
        assert frame.shape == (720, 1280, 3)
        (x, y, w, h), _ = it.plates[0]
        assert 0 <= x and x + w <= 1280 and 0 <= y and y + h <= 720 and w >= 70
        # The labelled box holds the crop (JPEG-compressed), not the frame behind it.
        crop = cv2.imread(str(tmp_path / "real" / "plates-us-ocr-val" / "imgs" / f"{n}.png"))
        expected = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA).astype(float)
        assert np.abs(frame[y : y + h, x : x + w].astype(float) - expected).mean() < 12
    # The same seed writes the same set; another seed places the crops elsewhere.
    again = tmp_path / "again"
    assert main([*args[:3], str(again), *args[4:]]) == 0
    assert open(out / "composite-00000.txt").read() == open(again / "composite-00000.txt").read()


def test_composite_frames_of_another_size_scale_their_plates(tmp_path, capsys):
    _real_sets(str(tmp_path / "real"), crops=2)
    out = tmp_path / "hd"
    args = ["synth", "composite", "--out", str(out), "--datasets", str(tmp_path / "real"), "--size", "1920x1080"]
    assert main(args) == 0
    for it in load_openalpr(str(out)):
        assert cv2.imread(it.path).shape == (1080, 1920, 3)
        assert it.plates[0][0][2] >= 105  # the 70 px band, scaled by 1920 / 1280
    assert main([*args[:-1], "1920"]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


def test_composite_needs_the_real_sets(tmp_path, capsys):
    assert main(["synth", "composite", "--out", str(tmp_path / "o"), "--datasets", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not found" in err and "--datasets" in err and len(err.splitlines()) == 1


def test_composite_frames_of_small_plates_keep_to_the_band(tmp_path, capsys):
    _real_sets(str(tmp_path / "real"), crops=4)
    out = tmp_path / "small"
    args = ["synth", "composite", "--out", str(out), "--datasets", str(tmp_path / "real"), "--widths", "50-60,60-70"]
    assert main(args) == 0
    widths = [it.plates[0][0][2] for it in load_openalpr(str(out))]
    assert all(50 <= w <= 60 for w in widths[0::2]) and all(60 <= w <= 70 for w in widths[1::2])
    capsys.readouterr()
    for bad in ("50", "70-50", "5-10", "50-2000"):
        assert main([*args[:-1], bad]) == 2
        err = capsys.readouterr().err.strip()
        assert "--widths" in err or "plate widths" in err
        assert len(err.splitlines()) == 1


def test_a_pasted_plate_covers_the_frame_plate_it_replaces():
    from alpr_app.models.composite import _fitting

    # Plates 40, 60 and 120 px wide in 1280x720 frames.
    plates = [(f"{w}.jpg", (1280, 720), (0.5, 0.5, w / 1280, 0.02)) for w in (40, 60, 120)]
    assert _fitting(plates, 70, (1280, 720)) == [0, 1]  # both no wider, both at least half
    assert _fitting(plates, 100, (1280, 720)) == [1]  # 40 px would be zoomed 2.5x: 60 px is
    assert _fitting(plates, 200, (1280, 720)) == [2]
    assert _fitting(plates, 300, (1280, 720)) == [0, 1, 2]  # none at least half: any no wider
    assert _fitting(plates, 30, (1280, 720)) == [0]  # none fits: the narrowest
    # A 1920x1080 frame zooms every 1280 px frame by 1.5 first: 60 px plates become 90.
    assert _fitting(plates, 70, (1920, 1080)) == [0]
