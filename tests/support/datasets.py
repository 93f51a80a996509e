"""Small stand-ins for the real data sets, for training runs in tests (tests/models)."""

from __future__ import annotations

import csv
import os

import cv2

from alpr.synth.datasets import plate_crop
from alpr_app.models.train_reader import real_split


def fake_real_dataset(root: str) -> None:
    # The plates-ar-ocr layout (annotations.csv with image_path,plate_text), filled with
    # synthetic crops; both sides of `real_split` must be present.
    os.makedirs(os.path.join(root, "plates-ar-ocr", "images"))
    rows, sides = [], set()
    for i in range(40):
        crop, text = plate_crop(777, i)
        rel = f"images/{i}.png"
        cv2.imwrite(os.path.join(root, "plates-ar-ocr", rel), crop)
        rows.append((rel, text))
        sides.add(real_split(text))
        if sides == {"train", "test"} and len(rows) >= 6:
            break
    with open(os.path.join(root, "plates-ar-ocr", "annotations.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_path", "plate_text"])
        w.writerows(rows)
