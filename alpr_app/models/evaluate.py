"""Measuring capture and reading on labelled data, the numbers the ALPR policy publishes.

Definitions (also in docs/benchmarks-models.md):

* capture_rate: labelled plates with a detection of IoU >= 0.4 (one detection per plate,
  greedy by IoU) / labelled plates. Detections without a label are not counted against it
  (they are reported as `unlabelled_detections`).
* perfect_read_rate: labelled plates with text whose matched read equals the label, both
  normalized (spaces, dashes ignored) / labelled plates with text. A missed plate is a
  wrong read.
* char_accuracy: 1 - edit distance / label length, floored at 0, averaged over the same
  plates (a missed plate scores 0).
* ms_per_image: wall time of decode + recognition per image, batch as given.
* confusions: the most frequent character errors over the wrong reads, from one minimal
  alignment of label and read: "O>Q" (label O read as Q), "1>-" (1 dropped), "->7" (7 added).
  Missed plates are not in it. It says which rule or training data would help most.
"""

from __future__ import annotations

import csv
import glob
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from alpr.errors import AlprError
from alpr.plates import align, normalize

IOU_CAPTURED = 0.4


@dataclass(frozen=True)
class LabelledImage:
    """An image file and its plates: (box x, y, w, h; text or None when unknown)."""

    path: str
    plates: tuple[tuple[tuple[int, int, int, int], str | None], ...]


def load_openalpr(directory: str) -> list[LabelledImage]:
    """A folder of images, each with a `.txt` of `name\\tx\\ty\\tw\\th\\tPLATE` lines."""
    items = []
    for txt in sorted(glob.glob(os.path.join(directory, "*.txt"))):
        plates = []
        name = None
        with open(txt) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 6:
                    raise AlprError(f"{txt}:{n}: expected name, x, y, w, h, plate separated by tabs")
                name = parts[0]
                plates.append(((int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4])), normalize(parts[5])))
        image = _image_for(txt, name)
        if image is not None:
            items.append(LabelledImage(image, tuple(plates)))
    if not items:
        raise AlprError(f"no labelled images (*.txt next to images) in {directory}")
    return items


def _image_for(txt: str, name: str | None) -> str | None:
    folder = os.path.dirname(txt)
    if name and os.path.exists(os.path.join(folder, name)):
        return os.path.join(folder, name)
    stem = os.path.splitext(txt)[0]
    for ext in (".jpg", ".jpeg", ".png"):
        if os.path.exists(stem + ext):
            return stem + ext
    return None


def load_yolo(directory: str) -> list[LabelledImage]:
    """A YOLO split (`.../images/<split>` with `.../labels/<split>`): boxes only, no text."""
    import cv2

    images = sorted(p for ext in ("jpg", "jpeg", "png") for p in glob.glob(os.path.join(directory, f"*.{ext}")))
    if not images:
        raise AlprError(f"no images in {directory}")
    items = []
    for path in images:
        label = path.replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}").rsplit(".", 1)[0] + ".txt"
        h, w = cv2.imread(path, cv2.IMREAD_REDUCED_GRAYSCALE_2).shape[:2]
        h, w = h * 2, w * 2  # size only; the reduced decode is cheaper
        plates = []
        if os.path.exists(label):
            for line in open(label):
                parts = line.split()
                if len(parts) == 5:
                    cx, cy, bw, bh = (float(v) for v in parts[1:])
                    plates.append(
                        ((round((cx - bw / 2) * w), round((cy - bh / 2) * h), round(bw * w), round(bh * h)), None)
                    )
        items.append(LabelledImage(path, tuple(plates)))
    return items


def load_crops(csv_path: str) -> list[tuple[str, str]]:
    """`image_path,plate_text` rows; relative paths are relative to the CSV's folder.

    A folder is accepted too when it holds `labels.csv` or `annotations.csv`.
    """
    if os.path.isdir(csv_path):
        for name in ("labels.csv", "annotations.csv"):
            if os.path.isfile(os.path.join(csv_path, name)):
                csv_path = os.path.join(csv_path, name)
                break
    if not os.path.isfile(csv_path):
        raise AlprError(f"crops CSV {csv_path} not found")
    base = os.path.dirname(os.path.abspath(csv_path))
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"image_path", "plate_text"} <= set(reader.fieldnames):
            raise AlprError(f"{csv_path}: expected a header with image_path,plate_text")
        return [(os.path.join(base, r["image_path"]), normalize(r["plate_text"])) for r in reader]


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (unbounded; `alpr.plates.edit_distance` is the banded hot-path one)."""
    return len(char_errors(a, b))


def char_errors(label: str, read: str) -> list[str]:
    """The edits of one minimal alignment turning `label` into `read`: 'A>B', 'A>-', '->B'."""
    edits: list[str] = []
    for i, j in align(label, read):
        if j is None:
            edits.append(f"{label[i]}>-")
        elif i is None:
            edits.append(f"->{read[j]}")
        elif label[i] != read[j]:
            edits.append(f"{label[i]}>{read[j]}")
    return edits


def char_score(read: str, label: str) -> float:
    return max(0.0, 1.0 - edit_distance(normalize(read), label) / max(1, len(label)))


class _Tally:
    def __init__(self) -> None:
        self.plates = self.captured = self.with_text = self.perfect = 0
        self.chars = 0.0
        self.confusions: dict[str, int] = {}
        self.scored: list[tuple[float, bool]] = []  # (reported confidence, exact) of each labelled read

    def add(self, label: str | None, read: str | None, confidence: float | None = None) -> None:
        self.plates += 1
        self.captured += read is not None
        if label:
            self.with_text += 1
            if read is not None:
                self.perfect += normalize(read) == label
                if confidence is not None:
                    self.scored.append((confidence, normalize(read) == label))
                self.chars += char_score(read, label)
                for edit in char_errors(label, normalize(read)):
                    self.confusions[edit] = self.confusions.get(edit, 0) + 1

    def top_confusions(self, n: int = 12) -> dict[str, int]:
        return dict(sorted(self.confusions.items(), key=lambda kv: (-kv[1], kv[0]))[:n])

    def reliability(self) -> dict:
        """How often reads are right at each reported confidence (the reliability curve):
        per bin, reads and the share exactly right; `at_or_above_0.9` is the figure later
        stages rely on (a read reported at >= 0.9 should be right >= 99% of the time)."""
        out = {}
        for lo, hi in RELIABILITY_BINS:
            inside = [ok for c, ok in self.scored if lo <= c < hi or (hi == 1.0 and c == 1.0)]
            out[f"{lo:.2f}-{hi:.2f}"] = {"reads": len(inside), "right": _ratio(sum(inside), len(inside))}
        sure = [ok for c, ok in self.scored if c >= 0.9]
        out["at_or_above_0.9"] = {
            "reads": len(sure),
            "right": _ratio(sum(sure), len(sure)),
            "share_of_reads": _ratio(len(sure), len(self.scored)),
        }
        return out

    def summary(self) -> dict:
        return {
            "plates": self.plates,
            "capture_rate": _ratio(self.captured, self.plates),
            "perfect_read_rate": _ratio(self.perfect, self.with_text),
            "char_accuracy": _ratio(self.chars, self.with_text),
        }


def _ratio(a: float, b: int) -> float | None:
    return round(a / b, 4) if b else None


RELIABILITY_BINS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 0.99), (0.99, 1.0))
WIDTH_BUCKETS = ((0, 60), (60, 100), (100, 160), (160, 10_000))


def evaluate_frames(
    recognizer,
    items: Iterable[LabelledImage],
    batch: int = 8,
    max_pixels: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_failures: int = 20,
) -> dict:
    """Run the recognizer over labelled frames and compute the metrics in the module docstring;
    the first `max_failures` wrong reads are listed (image, label, read, box width)."""
    from services.recognizer.models.images import DEFAULT_MAX_PIXELS, decode_image

    items = list(items)
    total = _Tally()
    by_width = {b: _Tally() for b in WIDTH_BUCKETS}
    unlabelled = 0
    elapsed = 0.0
    failures: list[dict] = []
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        blobs = [open(it.path, "rb").read() for it in chunk]
        t0 = time.perf_counter()
        frames = [decode_image(b, max_pixels or DEFAULT_MAX_PIXELS) for b in blobs]
        results = recognizer.recognize(frames)
        elapsed += time.perf_counter() - t0
        for item, reads in zip(chunk, results):
            used: set[int] = set()
            pairs = sorted(
                ((iou(box, r.bbox), p, k) for p, (box, _) in enumerate(item.plates) for k, r in enumerate(reads)),
                reverse=True,
            )
            matched: dict[int, int] = {}
            for score, p, k in pairs:
                if score < IOU_CAPTURED:
                    break
                if p not in matched and k not in used:
                    matched[p] = k
                    used.add(k)
            unlabelled += len(reads) - len(used)
            for p, (box, label) in enumerate(item.plates):
                read = reads[matched[p]].text if p in matched else None
                total.add(label, read, reads[matched[p]].confidence if p in matched else None)
                next(t for (lo, hi), t in by_width.items() if lo <= box[2] < hi).add(label, read)
                if label and read != label and len(failures) < max_failures:
                    failures.append(
                        {
                            "image": os.path.basename(item.path),
                            "label": label,
                            "read": read,
                            "confidence": reads[matched[p]].confidence if p in matched else None,
                            "width": box[2],
                        }
                    )
        if progress is not None:
            progress(min(start + batch, len(items)), len(items))
    out = {
        "images": len(items),
        **total.summary(),
        "unlabelled_detections": unlabelled,
        "ms_per_image": round(1000 * elapsed / max(1, len(items)), 1),
        "by_plate_width": {
            f"{lo}-{hi if hi < 10_000 else 'max'}px": t.summary() for (lo, hi), t in by_width.items() if t.plates
        },
        "reliability": total.reliability(),
        "confusions": total.top_confusions(),
        "failures": failures,
    }
    return out


def evaluate_crops(
    reader, rows: list[tuple[str, str]], batch: int = 64, calibration=None, max_failures: int = 20
) -> dict:
    """Read labelled crops with a `PlateReader` (no detection: capture_rate is null); with a
    `calibration` (calibration.py), each read's confidence as the recognizer reports it. The
    first `max_failures` wrong reads are listed."""
    import cv2

    tally = _Tally()
    elapsed = 0.0
    failures: list[dict] = []
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        crops = []
        for path, _ in chunk:
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise AlprError(f"cannot read crop image {path}")
            crops.append(img)
        t0 = time.perf_counter()
        reads = reader.read(crops)
        elapsed += time.perf_counter() - t0
        for (path, label), read in zip(chunk, reads):
            confidence = calibration(read.confidence) if calibration and read.text else read.confidence
            tally.add(label, read.text, confidence)
            if read.text != label and len(failures) < max_failures:
                failures.append(
                    {"image": os.path.basename(path), "label": label, "read": read.text, "confidence": confidence}
                )
    summary = tally.summary()
    summary["capture_rate"] = None
    return {
        "images": len(rows),
        **summary,
        "ms_per_image": round(1000 * elapsed / max(1, len(rows)), 2),
        "reliability": tally.reliability(),
        "confusions": tally.top_confusions(),
        "failures": failures,
    }
