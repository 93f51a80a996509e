"""Training the plate reader (CRNN + CTC) on synthetic crops plus the real Argentine crops.

The real set is small (147 crops of about 100 distinct plates), so it is split by plate
text (`real_split`): about a quarter of the plates never reach training and serve as the
real reading benchmark; the crops of the other plates are repeated with jittered borders.
The committed reader was trained in two stages (see weights/MODEL_CARD.md): the second
starts from the first (`init`) on freshly rendered crops at a lower learning rate.
"""

from __future__ import annotations

import csv
import os
import time
import zlib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from alpr.errors import AlprError
from alpr.plates import normalize

if TYPE_CHECKING:  # torch is imported where training runs, not when the module is read
    import torch

READER_FILE = "reader.pt"


@dataclass(frozen=True)
class ReaderTraining:
    """Everything that decides the reader's weights; the model card records these."""

    out_dir: str
    work_dir: str = "/tmp/alpr-train/reader"
    datasets_dir: str = "../shared/datasets"
    synth_crops: int = 30000
    synth_val_crops: int = 1000
    seed: int = 2000  # synthetic train crops; validation uses seed + 1
    real_repeats: int = 30
    epochs: int = 8
    batch: int = 64
    lr: float = 2e-3
    threads: int = 1  # two training processes share the 2-core machine
    workers: int = 1
    init: str | None = None  # start from these reader weights (second stage) instead of random
    # More synthetic training sets of `synth_crops` each (stage 3 trains on four at once:
    # the first two stages overfit one set of 30,000, train loss 0.03 against 89-91% val).
    extra_seeds: tuple[int, ...] = ()
    # Synthetic training sets rendered under the HARD conditions (smaller, blurrier, darker
    # plates than TRAIN's), `synth_crops` each; with them a HARD validation set (the first
    # seed + 1) joins the TRAIN one, and the epoch kept is the one with most exact reads
    # over both. Never 9001, the HARD test set's seed.
    hard_seeds: tuple[int, ...] = ()
    # The conditions (alpr.synth.scene.CONDITIONS) of the `seed` and `extra_seeds` sets and of
    # their validation set: "train-real-ones" draws most 1s footless, as real US plates have them.
    conditions: str = "train"
    # More training sets under other conditions than `conditions`, as (conditions, seed): a
    # mix whose 1s are footed where the synthetic sets draw them so and footless where real
    # plates do. Each distinct condition's first seed + 1 joins validation.
    mixed_sets: tuple[tuple[str, int], ...] = ()
    augment: bool = False  # online augmentation inside the TRAIN conditions' ranges (`augment_batch`)
    width: str = "small"  # crnn.WIDTHS; a second stage (`init`) keeps the width of its start
    # Reviewed crops of the operator's own cameras (alpr_app.models.reviews_dataset labels.csv):
    # split by plate like the real set, the train side repeated `review_repeats` times.
    review_crops: str | None = None
    review_repeats: int = 30


def real_split(plate_text: str) -> str:
    """'test' for about a quarter of the distinct plates, 'train' for the rest (stable)."""
    return "test" if zlib.crc32(normalize(plate_text).encode()) % 4 == 0 else "train"


def load_real_crops(datasets_dir: str, split: str | None = None) -> list[tuple[str, str]]:
    """(absolute image path, text) of plates-ar-ocr, optionally only one `real_split` side."""
    root = os.path.join(os.path.abspath(datasets_dir), "plates-ar-ocr")
    path = os.path.join(root, "annotations.csv")
    if not os.path.exists(path):
        raise AlprError(f"real reader data not found at {path} (set --datasets or ALPR_DATASETS)")
    with open(path, newline="") as f:
        rows = [(os.path.join(root, r["image_path"]), normalize(r["plate_text"])) for r in csv.DictReader(f)]
    return [r for r in rows if split is None or real_split(r[1]) == split]


def _load_csv(csv_path: str) -> tuple[list[str], list[str]]:
    base = os.path.dirname(csv_path)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [os.path.join(base, r["image_path"]) for r in rows], [normalize(r["plate_text"]) for r in rows]


def _inputs(paths: list[str], jitter_rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The network's uint8 32x128 views of these images, and each image's width in pixels."""
    import cv2

    from services.recognizer.models.crnn import INPUT_H, INPUT_W, to_input_gray

    out = np.empty((len(paths), INPUT_H, INPUT_W), np.uint8)
    widths = np.empty(len(paths), np.int32)
    for i, p in enumerate(paths):
        img = cv2.imread(p, cv2.IMREAD_COLOR)
        if img is None:
            raise AlprError(f"cannot read training image {p}")
        if jitter_rng is not None:
            img = _jitter(img, jitter_rng)
        out[i] = to_input_gray(img)
        widths[i] = img.shape[1]
    return out, widths


# Online augmentation stays inside what the TRAIN conditions already render (plates down to
# 40 px wide, noise sigma up to 7, crop borders -3%..+12%), so the HARD test set keeps being
# harder than anything trained on. What it adds is variety: the same 120,000 rendered
# crops are seen at other scales, cuts and noise each epoch.
AUG_P = 0.5  # share of each batch that is augmented
AUG_MIN_WIDTH = 40  # px: a crop is never shrunk below the smallest plate TRAIN renders
AUG_MAX_NOISE = 7.0


def augment_batch(x: torch.Tensor, widths: np.ndarray, gen: torch.Generator) -> torch.Tensor:
    """Augment a float batch (N, 1, 32, 128) of 0..255 grayscale crops; returns a new tensor.

    Per chosen item: a small affine change of the cut (scale, shift, shear: a looser or
    tighter detector box), for crops wider than 80 px a round trip through a smaller size
    (a plate seen from further away), and pixel noise.
    """
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    pick = torch.rand(n, generator=gen) < AUG_P
    if not bool(pick.any()):
        return x
    out = x.clone()
    idx = pick.nonzero().squeeze(1)
    m = len(idx)
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(m, generator=gen)  # noqa: E731
    theta = torch.zeros(m, 2, 3)
    theta[:, 0, 0] = u(0.94, 1.06)
    theta[:, 1, 1] = u(0.92, 1.08)
    theta[:, 0, 1] = u(-0.05, 0.05)  # shear: a slightly rotated plate in a 4:1 view
    theta[:, 0, 2] = u(-0.04, 0.04)
    theta[:, 1, 2] = u(-0.06, 0.06)
    grid = F.affine_grid(theta, (m, 1, x.shape[2], x.shape[3]), align_corners=False)
    sub = F.grid_sample(x[idx], grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Resolution: shrink to a width drawn between AUG_MIN_WIDTH and 80% of the crop's own.
    w = torch.from_numpy(widths[idx.numpy()]).float()
    shrink = (w > 80) & (torch.rand(m, generator=gen) < 0.5)
    for j in shrink.nonzero().squeeze(1).tolist():
        tw = int(AUG_MIN_WIDTH + (0.8 * float(w[j]) - AUG_MIN_WIDTH) * float(torch.rand(1, generator=gen)))
        th = max(8, round(tw * x.shape[2] / x.shape[3] * 2))  # US plates are about 2:1
        small = F.interpolate(sub[j : j + 1], size=(min(th, x.shape[2]), min(tw, x.shape[3])), mode="area")
        sub[j : j + 1] = F.interpolate(small, size=x.shape[2:], mode="bilinear", align_corners=False)
    noisy = torch.rand(m, generator=gen) < 0.3
    sigma = (u(0.0, AUG_MAX_NOISE) * noisy).view(m, 1, 1, 1)
    sub = (sub + sigma * torch.randn(sub.shape, generator=gen)).clamp(0, 255)
    out[idx] = sub
    return out


def _jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Loosen or tighten a tight real crop the way detector boxes vary."""
    import cv2

    h, w = img.shape[:2]
    pads = (rng.uniform(-0.04, 0.12, 4) * np.array([w, w, h, h])).astype(int)
    big = cv2.copyMakeBorder(img, h, h, w, w, cv2.BORDER_REPLICATE)
    return big[h - pads[2] : 2 * h + pads[3], w - pads[0] : 2 * w + pads[1]]


def train_reader(cfg: ReaderTraining) -> str:
    """Render crops, train, keep the best validation epoch; returns the weights path."""
    import torch
    from torch import nn

    from alpr.synth.datasets import write_crops_dataset
    from services.recognizer.models.crnn import ALPHABET, INPUT_H, INPUT_W, Crnn, encode, greedy_decode

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)

    from alpr.synth.scene import CONDITIONS

    if cfg.conditions not in CONDITIONS:
        raise AlprError(f"unknown conditions {cfg.conditions!r} (one of {', '.join(CONDITIONS)})")
    for conditions, _ in cfg.mixed_sets:
        if conditions not in CONDITIONS:
            raise AlprError(f"unknown conditions {conditions!r} (one of {', '.join(CONDITIONS)})")
    if 9001 in cfg.hard_seeds or any(seed == 9001 for _, seed in cfg.mixed_sets):
        raise AlprError("seed 9001 renders the HARD test set; train on other seeds")
    train_paths: list[str] = []
    y_train: list[str] = []
    vals: list[tuple[list[str], list[str]]] = []
    plan = [("train", s, cfg.synth_crops, cfg.conditions) for s in (cfg.seed, *cfg.extra_seeds)]
    plan += [("train", s, cfg.synth_crops, "hard") for s in cfg.hard_seeds]
    plan += [("train", s, cfg.synth_crops, c) for c, s in cfg.mixed_sets]
    plan.append(("val", cfg.seed + 1, cfg.synth_val_crops, cfg.conditions))
    validated = {cfg.conditions}
    if cfg.hard_seeds:
        plan.append(("val", cfg.hard_seeds[0] + 1, cfg.synth_val_crops, "hard"))
        validated.add("hard")
    for conditions, seed in cfg.mixed_sets:
        if conditions not in validated:
            plan.append(("val", seed + 1, cfg.synth_val_crops, conditions))
            validated.add(conditions)
    for name, seed, n, conditions in plan:
        # TRAIN sets keep their old folder names, so sets rendered before still count.
        d = os.path.join(
            cfg.work_dir, f"crops-{seed}-{n}" if conditions == "train" else f"crops-{conditions}-{seed}-{n}"
        )
        if not os.path.exists(os.path.join(d, ".complete")):
            t0 = time.time()
            write_crops_dataset(
                d,
                n,
                seed,
                workers=cfg.workers,
                progress=lambda i, total, name=name: print(f"{name} crops {i}/{total}", flush=True),
                conditions=conditions,
            )
            open(os.path.join(d, ".complete"), "w").close()
            print(f"rendered {n} {name} crops (seed {seed}, {conditions}) in {time.time() - t0:.0f}s", flush=True)
        paths, labels = _load_csv(os.path.join(d, "labels.csv"))
        if name == "train":
            train_paths += paths
            y_train += labels
        else:
            vals.append((paths, labels))

    t0 = time.time()
    x_train, w_train = _inputs(train_paths)
    real = load_real_crops(cfg.datasets_dir, "train")
    xs, ws = [x_train], [w_train]
    for _ in range(cfg.real_repeats):
        x_real_train, w_real_train = _inputs([p for p, _ in real], rng)
        xs.append(x_real_train)
        ws.append(w_real_train)
        y_train += [t for _, t in real]
    review_test: list[tuple[str, str]] = []
    if cfg.review_crops:
        from alpr_app.models.reviews_dataset import load_review_crops

        reviewed = load_review_crops(cfg.review_crops)
        review_train = [r for r in reviewed if real_split(r[1]) == "train"]
        review_test = [r for r in reviewed if real_split(r[1]) == "test"]
        for _ in range(cfg.review_repeats if review_train else 0):
            x_rev, w_rev = _inputs([p for p, _ in review_train], rng)
            xs.append(x_rev)
            ws.append(w_rev)
            y_train += [t for _, t in review_train]
        print(
            f"reviewed crops: {len(review_train)} train x{cfg.review_repeats}, {len(review_test)} held out", flush=True
        )
    x_train, w_train = np.concatenate(xs), np.concatenate(ws)
    val_sets = [(_inputs(paths)[0], labels) for paths, labels in vals]
    real_test = load_real_crops(cfg.datasets_dir, "test")
    x_real, y_real = _inputs([p for p, _ in real_test])[0], [t for _, t in real_test]
    print(
        f"loaded {len(y_train)} train crops ({len(real)} real x{cfg.real_repeats}), "
        f"{' + '.join(str(len(labels)) for _, labels in val_sets)} val, "
        f"{len(y_real)} real held out, in {time.time() - t0:.0f}s",
        flush=True,
    )

    targets = [torch.tensor(encode(t), dtype=torch.long) for t in y_train]
    init = torch.load(cfg.init, map_location="cpu", weights_only=True) if cfg.init else None
    if init is not None and init.get("width", "small") != cfg.width:
        raise AlprError(
            f"{cfg.init} is a {init.get('width', 'small')!r} reader; train it further with --width "
            f"{init.get('width', 'small')}"
        )
    model = Crnn(cfg.width)
    if init is not None:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in init["state_dict"].items()})
        print(f"starting from {cfg.init}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    steps_per_epoch = len(y_train) // cfg.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.15
    )
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)

    aug_gen = torch.Generator().manual_seed(cfg.seed)

    def batches(x: np.ndarray, widths: np.ndarray | None = None) -> torch.Tensor:
        f = torch.from_numpy(x).float().unsqueeze(1)
        if widths is not None:
            f = augment_batch(f, widths, aug_gen)
        mean = f.mean(dim=(2, 3), keepdim=True)
        std = f.std(dim=(2, 3), keepdim=True)
        return (f - mean) / (std + 8.0)  # same standardization as crnn.preprocess

    def accuracy(x: np.ndarray, labels: list[str]) -> float:
        model.eval()
        ok = 0
        with torch.no_grad():
            for i in range(0, len(labels), 256):
                decoded = greedy_decode(model(batches(x[i : i + 256])))
                ok += sum(t == y for (t, _), y in zip(decoded, labels[i : i + 256]))
        model.train()
        return ok / max(1, len(labels))

    x_review, y_review = (
        (_inputs([p for p, _ in review_test])[0], [t for _, t in review_test]) if review_test else (None, [])
    )
    review_before = accuracy(x_review, y_review) if x_review is not None and init is not None else None
    if init is not None:  # the starting point on the same sets, for the model card
        print(
            f"before training: synth-val exact {' / '.join(f'{accuracy(x, y):.4f}' for x, y in val_sets)} "
            f"real-held-out exact {accuracy(x_real, y_real):.4f}",
            flush=True,
        )
    best, best_state, best_review = -1.0, None, None
    started = time.time()
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(y_train))
        total = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * cfg.batch : (step + 1) * cfg.batch]
            xb = batches(x_train[idx], w_train[idx] if cfg.augment else None)
            tb = [targets[i] for i in idx]
            log_probs = model(xb).permute(1, 0, 2)  # CTC wants (columns, batch, classes)
            loss = ctc(
                log_probs,
                torch.cat(tb),
                torch.full((len(idx),), log_probs.shape[0], dtype=torch.long),
                torch.tensor([len(t) for t in tb], dtype=torch.long),
            )
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach())
            if step % 100 == 0:
                print(
                    f"epoch {epoch + 1}/{cfg.epochs} step {step}/{steps_per_epoch} loss {float(loss.detach()):.3f} "
                    f"elapsed {time.time() - started:.0f}s",
                    flush=True,
                )
        per_val = [accuracy(x, labels) for x, labels in val_sets]
        # Exact reads over every validation set (TRAIN's, and those of the other conditions trained on).
        val = sum(a * len(labels) for a, (_, labels) in zip(per_val, val_sets)) / sum(len(y) for _, y in val_sets)
        real_acc = accuracy(x_real, y_real)
        print(
            f"epoch {epoch + 1}: mean loss {total / steps_per_epoch:.3f} synth-val exact {val:.4f} "
            f"({' / '.join(f'{a:.4f}' for a in per_val)}) real-held-out exact {real_acc:.4f} "
            f"elapsed {time.time() - started:.0f}s",
            flush=True,
        )
        review_acc = accuracy(x_review, y_review) if x_review is not None else None
        if review_acc is not None:
            print(f"epoch {epoch + 1}: reviews-held-out exact {review_acc:.4f} ({len(y_review)} crops)", flush=True)
        if val >= best:  # select on synthetic validation only; the held-out sets stay tests
            best, best_review = val, review_acc
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    os.makedirs(cfg.out_dir, exist_ok=True)
    target = os.path.join(cfg.out_dir, READER_FILE)
    torch.save(
        {
            "arch": "crnn-v1",
            "width": cfg.width,
            "alphabet": ALPHABET,
            "input": [INPUT_H, INPUT_W],
            # fp16 halves the file; weights are cast back to fp32 on load for CPU inference.
            "state_dict": {k: (v.half() if v.is_floating_point() else v) for k, v in best_state.items()},
            "training": asdict(cfg),
            "synth_val_exact": best,
            # The reviewed crops of plates never trained on, before (the --init reader) and after.
            "reviews_held_out": {"crops": len(y_review), "before": review_before, "after": best_review},
            "seconds": round(time.time() - started),
        },
        target,
    )
    print(
        f"reader training took {time.time() - started:.0f}s; best synth-val exact {best:.4f}; saved {target}",
        flush=True,
    )
    return target


def average_readers(first: str, second: str, weight: float, out_dir: str) -> str:
    """A reader whose weights are `(1 - weight) x first + weight x second` (a "model soup");
    returns the weights path in `out_dir`.

    Both readers must have the same width and come from one training history (the second
    trained from the first, `init`): their CTC columns then mean the same thing, which two
    readers trained apart do not (a logit average of two such readers was tried and dropped,
    weights/MODEL_CARD.md). A fine-tune keeps what it learned and gives back part of what it
    forgot when pulled back towards its start. The 0.7 mix of the wide reader and its
    fine-tune on footed and footless 1s read more real US plates than either. It was not
    shipped: its calibration left under 75% of real reads at 0.9 (docs/benchmarks-models.md,
    2026-12-07).
    """
    import hashlib

    import torch

    if not 0.0 < weight < 1.0:
        raise AlprError(f"the soup's weight of the second reader is in (0, 1), not {weight}")
    ckpts = []
    for path in (first, second):
        if not os.path.exists(path):
            raise AlprError(f"reader weights not found: {path}")
        ckpts.append(torch.load(path, map_location="cpu", weights_only=True))
    a, b = ckpts
    if a.get("width", "small") != b.get("width", "small") or a["state_dict"].keys() != b["state_dict"].keys():
        raise AlprError(f"{first} and {second} are readers of different sizes; only one reader's states mix")
    state = {}
    for k, v in b["state_dict"].items():
        u = a["state_dict"][k]
        if v.shape != u.shape:
            raise AlprError(f"{first} and {second} differ in the shape of {k}; only one reader's states mix")
        # Counters (BatchNorm's num_batches_tracked) are not weights: the second reader's stay.
        state[k] = ((1 - weight) * u.float() + weight * v.float()).half() if v.is_floating_point() else v

    def sha(path: str) -> str:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, READER_FILE)
    torch.save(
        {
            **{k: b[k] for k in ("arch", "width", "alphabet", "input") if k in b},
            "state_dict": state,
            "soup": {
                "first": {"file": os.path.basename(first), "sha256": sha(first), "training": a.get("training")},
                "second": {"file": os.path.basename(second), "sha256": sha(second), "training": b.get("training")},
                "weight_of_second": weight,
            },
            "training": b.get("training"),
        },
        target,
    )
    return target
