"""Synthetic license plates and camera frames, deterministic by seed.

The public pieces:

* `render_plate(text, style, rng)` -> BGR image of one flat plate (`STYLES` lists the looks).
* `render_scene(rng, width, height, n_plates, conditions)` -> `Scene(image, plates)`, each
  plate a `PlateLabel(text, box=(x, y, w, h))`.
* `write_detection_dataset`, `write_crops_dataset`, `write_openalpr_testset`: sets on disk.
* `TRAIN` / `HARD` / `CLEAN`: degradation ranges for training, the held-out test set, and none.

The same seed always gives the same pixels and labels (the ingest service relies on this
to render reproducible demo footage).
"""

from alpr.synth.datasets import write_crops_dataset, write_detection_dataset, write_openalpr_testset
from alpr.synth.plate import STYLES, PlateStyle, random_plate_text, random_style, render_plate
from alpr.synth.scene import CLEAN, HARD, TRAIN, Conditions, PlateLabel, Scene, render_scene

__all__ = [
    "CLEAN",
    "HARD",
    "STYLES",
    "TRAIN",
    "Conditions",
    "PlateLabel",
    "PlateStyle",
    "Scene",
    "random_plate_text",
    "random_style",
    "render_plate",
    "render_scene",
    "write_crops_dataset",
    "write_detection_dataset",
    "write_openalpr_testset",
]
