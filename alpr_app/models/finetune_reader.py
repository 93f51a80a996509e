"""Fine-tuning the pretrained fast-plate-ocr CCT-XS v2 reader for US plates (CPU, a few epochs).

The pretrained reader (MIT, (c) ankandrew; `../shared/models/cct_xs_v2_global.onnx`) reads real
photographs well but misreads the project's synthetic US fonts and layouts. This script
converts it to PyTorch (onnx2torch), trains it a little on synthetic US crops plus the small
real sets, and writes the new weights back into a copy of the ORIGINAL ONNX graph, so the
result has the same input (uint8 NHWC [N,64,128,3], dynamic batch), the same outputs
(`plate` [N,10,37] and `region` [N,66], both softmaxed) and the same plate_config YAML:
`fast_plate_ocr.LicensePlateRecognizer` and `CctOnnxReader` load it unchanged.

Why each piece:

* Softmax stripped for training: both graph outputs end in a Softmax node; the student runs
  without them (logits, numerically stable cross-entropy and KL), the exported graph keeps them.
* Buffers made parameters: onnx2torch keeps the Conv weights as parameters but every MatMul
  weight, bias, DyT scale and position embedding as a buffer; those are what a transformer
  fine-tune must move. Three kinds stay frozen: the input rescale (1/255), the attention
  scale (1/sqrt(48)) and the fixed blur kernels of the max-blur pooling (constants, not weights).
* Distillation from the frozen original (KL to its per-slot and region distributions) on every
  real crop and, with a small weight, on synthetic ones: the real sets are tiny (97 Argentine
  crops, a few hundred Romanian ones), so without it the reader would trade its real-photo
  knowledge for the synthetic look.
* Same preprocessing as `CctOnnxReader`: an 8% replicated border, BGR->RGB, a linear resize
  to 128x64; online augmentation then changes cut, blur, noise, light and JPEG quality.
* Frozen convolution stem and a pull towards the original weights (`anchor`, instead of weight
  decay towards zero): less to forget, and the stem's features are computed once per batch
  for the student and the original (`split_stem`).
* `train_only` (`--train-only plate_1/`): the plate head alone, for a first fine-tune on an
  operator's reviewed crops. On synthetic crops it moves real 1s towards I as the whole fine-tune
  does (docs/benchmarks-models.md, "The CCT's plate head").
* plates-us-ocr-val (AGPL-3.0) is read only: it is measured each epoch and picks the epoch
  (rule in `select_epoch`), it is never a training input.

What it achieved on a shared 2-core CPU, and what did not work: weights/MODEL_CARD.md
("Fine-tuned CCT reader").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from alpr.errors import AlprError
from alpr.plates import PATTERNS, US_REGION, fits, round_character

if TYPE_CHECKING:  # torch is imported where training runs, not when the module is read
    import torch

OUT_FILE = "cct_us.onnx"
CONFIG_FILE = "cct_us_plate_config.yaml"
INPUT_H, INPUT_W = 64, 128


def _constant_node(onnx_node_name: str) -> bool:
    """The graph nodes whose constant input is not a weight: the input rescale (x * 1/255) and
    each attention's query scale (1/sqrt(head size)), a `Mul` directly under an attention block."""
    return onnx_node_name.endswith("rescaling_1/mul") or (
        "multi_head_attention" in onnx_node_name and onnx_node_name.endswith("_1/Mul")
    )


@dataclass(frozen=True)
class FineTuning:
    """Everything that decides the fine-tuned weights; the model card records these."""

    out_dir: str
    models_dir: str = "../shared/models"
    datasets_dir: str = "../shared/datasets"
    work_dir: str = "/tmp/alpr-train/finetune-cct"
    base_model: str = "cct_xs_v2_global.onnx"
    agree_model: str = "cct_xs_v1_global.onnx"  # second opinion for the Romanian pseudo-labels
    # Start from this earlier result (an `epochs/epoch-N.onnx` of a previous run, same graph)
    # instead of base_model; the original (teacher, anchor, state 0) stays base_model.
    init: str | None = None
    synth_crops: int = 24000
    synth_seed: int = 3000
    synth_val_crops: int = 1000
    synth_val_seed: int = 8101  # never trained on
    margin: float = 0.08  # CctOnnxReader's default
    ar_variants: int = 16  # jittered cuts per Argentine train crop (prepared once)
    ro_variants: int = 6  # jittered cuts per Romanian pseudo-labelled crop, from the frame itself (0: none)
    # Reviewed crops of the operator's own cameras (reviews_dataset labels.csv, `alpr train cct
    # --from-reviews`): the plates on one side of `train_reader.real_split` train (jittered views),
    # the others are measured each epoch and decide the selection (select_epoch).
    review_crops: str | None = None
    review_variants: int = 8
    pseudo_min_prob: float = 0.9  # every slot of v2 (pads included) at least this sure ...
    # ... and the v1 reader reading the same text: two models agreeing and sure is a label
    epochs: int = 8
    epoch_steps: int = 260  # optimizer steps per "epoch" (a measuring point); 0 = one pass over the synthetic crops
    stop_after: int = 0  # end after this many epochs, the schedule still planned for `epochs` (0: all)
    batch_synth: int = 48
    batch_real: int = 16  # real crops per batch: Argentine and Romanian by their counts
    lr: float = 1e-4  # AdamW, linear warm-up then cosine to 5% of it
    warmup_steps: int = 100
    # No decay towards zero (it would shrink the pretrained weights); instead a decoupled pull
    # towards the ORIGINAL weights ("L2-SP"): after each step p -= lr * anchor * (p - p_original).
    anchor: float = 1.0
    kd_real: float = 1.0  # weight of the KL to the frozen original on real crops
    kd_synth: float = 0.25  # ... on synthetic crops (the original is often wrong there)
    kd_synth_items: int = 16  # synthetic items per batch the original also reads (its forward costs time)
    kd_temperature: float = 2.0
    region_weight: float = 0.5  # region cross-entropy (round_character depends on the region)
    aug_p: float = 0.8  # share of items augmented online
    # The convolution stem (5 convolutions at full to quarter resolution: edge and stroke filters)
    # stays frozen: backward through it is most of a step's time on the CPU, new fonts need new
    # shapes-to-characters (the transformer), not new edges, and it cannot forget what it keeps.
    frozen_stem_convs: int = 5
    # Train only the tensors whose ONNX names contain one of these comma-separated parts
    # ("plate_1/" is the plate head: one 96 x 37 classifier shared by the 10 slots); empty:
    # everything but the frozen stem. A head alone cannot forget what the features know.
    train_only: str = ""
    seed: int = 3000
    threads: int = 2
    workers: int = 2  # rendering processes
    us_val: bool = True  # measure (and select) on plates-us-ocr-val when present
    select_tolerance: float = 0.005  # us-ocr-val may fall at most this far below the original's


# ---------------------------------------------------------------- model: ONNX <-> torch


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_torch_model(onnx_path: str, trainable: bool = True):
    """The ONNX reader as a torch GraphModule.

    With `trainable`: output Softmax nodes removed (the module returns logits) and the weight
    buffers turned into parameters. Returns (module, {parameter name: ONNX initializer name}).
    """
    import onnx
    import torch
    from onnx2torch import convert
    from torch import nn

    proto = onnx.load(onnx_path)
    model = convert(proto)
    if not trainable:
        model.eval()
        return model, {}
    nodes = {n.name: n for n in proto.graph.node}
    inits = {t.name for t in proto.graph.initializer}
    const_fold = {t.name: t for t in proto.graph.initializer}
    mapping: dict[str, str] = {}

    graph = model.graph
    out_node = next(n for n in graph.nodes if n.op == "output")
    for prod in list(out_node.all_input_nodes):
        if prod.op == "call_module" and isinstance(model.get_submodule(prod.target), nn.Softmax):
            prod.replace_all_uses_with(prod.args[0])
            graph.erase_node(prod)

    for node in list(graph.nodes):
        if node.op == "get_attr":
            owner_name, _, attr = node.target.rpartition(".")
            owner = model.get_submodule(owner_name)
            value = getattr(owner, attr)
            if not value.is_floating_point():
                continue
            users = [u.target for u in node.users]
            if len(users) != 1 or users[0] not in nodes:
                raise AlprError(f"{onnx_path}: cannot place {node.target} (used by {users})")
            onnx_node = nodes[users[0]]
            if _constant_node(users[0]):
                continue
            candidates = [i for i in onnx_node.input if i in inits and _same(const_fold[i], value)]
            if len(candidates) != 1:
                raise AlprError(f"{onnx_path}: {node.target} matches {candidates} of node {users[0]}")
            del owner._buffers[attr]
            owner.register_parameter(attr, nn.Parameter(value.detach().clone()))
            mapping[node.target] = candidates[0]
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            onnx_node = nodes.get(name.rsplit(".", 1)[0] if name not in nodes else name)
            if onnx_node is None or "max_blur_pooling" in name:
                for p in module.parameters():
                    p.requires_grad_(False)  # the fixed blur kernels of the max-blur pooling
                continue
            for pname, index in (("weight", 1), ("bias", 2)):
                value = getattr(module, pname)
                if value is None:
                    continue
                if not _same(const_fold[onnx_node.input[index]], value):
                    raise AlprError(f"{onnx_path}: {name}.{pname} differs from initializer {onnx_node.input[index]}")
                mapping[f"{name}.{pname}"] = onnx_node.input[index]
    graph.lint()
    model.recompile()
    for name, p in model.named_parameters():
        if p.requires_grad and name not in mapping:
            raise AlprError(f"{onnx_path}: parameter {name} has no ONNX initializer to go back to")
    model.train()
    return model, mapping


def _same(tensor_proto, value) -> bool:
    from onnx import numpy_helper

    a = numpy_helper.to_array(tensor_proto)
    v = value.detach().cpu().numpy()
    return a.shape == v.shape and np.array_equal(a.astype(np.float32), v)


def write_onnx(base_onnx: str, model, mapping: dict[str, str], out_path: str) -> str:
    """A copy of `base_onnx` with the initializers in `mapping` replaced by the model's values."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(base_onnx)
    params = dict(model.named_parameters())
    by_name = {t.name: i for i, t in enumerate(proto.graph.initializer)}
    for pname, iname in mapping.items():
        old = proto.graph.initializer[by_name[iname]]
        arr = params[pname].detach().cpu().numpy().astype(numpy_helper.to_array(old).dtype)
        proto.graph.initializer[by_name[iname]].CopyFrom(numpy_helper.from_array(arr, iname))
    onnx.checker.check_model(proto)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    onnx.save(proto, out_path)
    return out_path


# ---------------------------------------------------------------- data


def prepare(img_bgr: np.ndarray, margin: float) -> np.ndarray:
    """CctOnnxReader's view of a crop: replicated margin, RGB, linear resize to 128x64 (uint8)."""
    import cv2

    if margin > 0:
        h, w = img_bgr.shape[:2]
        dy, dx = int(round(h * margin)), int(round(w * margin))
        img_bgr = cv2.copyMakeBorder(img_bgr, dy, dy, dx, dx, cv2.BORDER_REPLICATE)
    rgb = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (INPUT_W, INPUT_H), interpolation=cv2.INTER_LINEAR)


def synth_region(text: str) -> str:
    """The region of a synthetic crop: its Mercosur layout is Argentine, everything else US.

    (The generator's old black Argentine style prints a US-like AAA999 serial and is counted US;
    its texts hold no O since 2026-12-02, so round_character cannot change them.)
    """
    return "Argentina" if fits(text, PATTERNS["ar-mercosur"]) else US_REGION


def convention_label(text: str, region: str) -> str:
    """The label written the way the reader's post-processing writes a read (round_character)."""
    return round_character(text, region)


def render_synth(work_dir: str, n: int, seed: int, workers: int) -> str:
    from alpr.synth.datasets import write_crops_dataset

    d = os.path.join(work_dir, f"crops-{seed}-{n}")
    if not os.path.exists(os.path.join(d, ".complete")):
        t0 = time.time()
        write_crops_dataset(
            d, n, seed, workers=workers, progress=lambda i, total: print(f"crops seed {seed}: {i}/{total}", flush=True)
        )
        open(os.path.join(d, ".complete"), "w").close()
        print(f"rendered {n} crops (seed {seed}) in {time.time() - t0:.0f}s", flush=True)
    return os.path.join(d, "labels.csv")


def load_prepared(rows: list[tuple[str, str]], margin: float) -> np.ndarray:
    import cv2

    out = np.empty((len(rows), INPUT_H, INPUT_W, 3), np.uint8)
    for i, (path, _) in enumerate(rows):
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise AlprError(f"cannot read {path}")
        out[i] = prepare(img, margin)
    return out


def _jitter_pads(rng: np.random.Generator) -> np.ndarray:
    # The cut a detector makes: -4% (into the plate) to +12% per side, like train_reader._jitter.
    return rng.uniform(-0.04, 0.12, 4)


def ar_train_views(datasets_dir: str, variants: int, margin: float, rng: np.random.Generator):
    """Jittered views of the Argentine train-side crops (`train_reader.real_split`)."""
    import cv2

    from alpr_app.models.train_reader import _jitter, load_real_crops

    rows = load_real_crops(datasets_dir, "train")
    xs, texts = [], []
    for path, text in rows:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        for v in range(variants):
            xs.append(prepare(img if v == 0 else _jitter(img, rng), margin))
            texts.append(text)
    return np.stack(xs), texts, len(rows)


def ro_pseudo_labels(cfg: FineTuning, rng: np.random.Generator):
    """Romanian train-split boxes cut from their frames and read by v2 and v1.

    Kept: v2 sure of every slot (>= pseudo_min_prob, pads included) and v1 reading the same
    text. Returns (views, texts, kept crops, boxes seen).
    """
    import cv2

    from alpr.synth.datasets import crop_box
    from alpr_app.models.evaluate import load_yolo
    from services.recognizer.models.onnx_models import CctOnnxReader

    root = os.path.join(os.path.abspath(cfg.datasets_dir), "plates-ro-detect", "images", "train")
    if not os.path.isdir(root):
        raise AlprError(f"{root} not found (set --datasets)")
    v2 = CctOnnxReader(cfg.models_dir, model=cfg.base_model, round_zero=False, margin=cfg.margin, threads=cfg.threads)
    v1 = CctOnnxReader(cfg.models_dir, model=cfg.agree_model, round_zero=False, margin=cfg.margin, threads=cfg.threads)
    xs, texts = [], []
    seen = kept = 0
    for item in load_yolo(root):
        if not item.plates:
            continue
        frame = cv2.imread(item.path, cv2.IMREAD_COLOR)
        crops = [crop_box(frame, box, 0.0) for box, _ in item.plates]
        crops = [(c, box) for c, (box, _) in zip(crops, item.plates) if c.shape[0] >= 8 and c.shape[1] >= 16]
        if not crops:
            continue
        seen += len(crops)
        a = v2.read([c for c, _ in crops])
        b = v1.read([c for c, _ in crops])
        for (crop, box), ra, rb in zip(crops, a, b):
            if ra.text and ra.confidence >= cfg.pseudo_min_prob and ra.text == rb.text and len(ra.text) >= 4:
                kept += 1
                for v in range(cfg.ro_variants):
                    cut = crop if v == 0 else crop_box(frame, box, _jitter_pads(rng))
                    xs.append(prepare(cut, cfg.margin))
                    texts.append(ra.text)
    if not xs:
        return np.empty((0, INPUT_H, INPUT_W, 3), np.uint8), [], 0, seen
    return np.stack(xs), texts, kept, seen


@dataclass
class ReviewedViews:
    """The reviewed crops as the fine-tune uses them: jittered train views, and held-out crops."""

    x_train: np.ndarray
    t_train: list[str]
    r_train: list[int]
    n_train: int
    x_test: np.ndarray
    test_labels: list[str]


def reviewed_views(cfg: FineTuning, rng: np.random.Generator, regions: list[str]) -> ReviewedViews:
    """The reviewed crops of `cfg.review_crops`, split by plate (`train_reader.real_split`, as the
    CRNN's training splits them): a plate is trained on or measured, never both.

    A reviewer settles the text, not the region, so each crop's region label is the one the
    original reader's region head gives it (the KL to the original keeps the rest of the head)."""
    import cv2

    empty = np.empty((0, INPUT_H, INPUT_W, 3), np.uint8)
    if not cfg.review_crops:
        return ReviewedViews(empty, [], [], 0, empty, [])
    from alpr_app.models.reviews_dataset import load_review_crops
    from alpr_app.models.train_reader import _jitter, real_split
    from services.recognizer.models.onnx_models import CctOnnxReader

    rows = load_review_crops(cfg.review_crops)
    images = []
    for path, text in rows:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise AlprError(f"cannot read reviewed crop {path}")
        images.append((img, text))
    train = [(img, t) for img, t in images if real_split(t) == "train"]
    test = [(img, t) for img, t in images if real_split(t) == "test"]
    reader = CctOnnxReader(cfg.models_dir, model=cfg.base_model, round_zero=False, margin=cfg.margin)
    index = {r: i for i, r in enumerate(regions)}
    guessed = reader.read([img for img, _ in train]) if train else []
    xs, texts, regs = [], [], []
    for (img, text), read in zip(train, guessed):
        region = index.get(read.region or US_REGION, index[US_REGION])
        for v in range(cfg.review_variants):
            xs.append(prepare(img if v == 0 else _jitter(img, rng), cfg.margin))
            texts.append(text)
            regs.append(region)
    x_test = np.stack([prepare(img, cfg.margin) for img, _ in test]) if test else empty
    # Measured as the reader writes a read: the round character by the region rule
    # (convention_label), with the region the original reads on the crop.
    test_regions = [r.region or US_REGION for r in reader.read([img for img, _ in test])] if test else []
    labels = [convention_label(t, r) for (_, t), r in zip(test, test_regions)]
    return ReviewedViews(np.stack(xs) if xs else empty, texts, regs, len(train), x_test, labels)


def encode(texts: list[str], alphabet: str, pad: str, slots: int) -> np.ndarray:
    index = {c: i for i, c in enumerate(alphabet)}
    out = np.full((len(texts), slots), index[pad], np.int64)
    for i, t in enumerate(texts):
        if len(t) > slots:
            raise AlprError(f"label {t!r} is longer than the reader's {slots} slots")
        out[i, : len(t)] = [index[c] for c in t]
    return out


# ---------------------------------------------------------------- augmentation


def augment(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """Online augmentation of a float batch (N, 3, 64, 128) in 0..255 (RGB); returns a new tensor.

    Per chosen item, each with its own chance: a small affine change of the cut (scale
    0.88-1.06 is the margin's jitter, shift, +-4 deg rotation, shear), a blur or a round trip
    through a lower resolution, brightness/contrast/colour, grey (IR cameras), noise, and JPEG.
    Everything stays mild: the reader must keep reading the sharp real crops it reads now.
    """
    import cv2
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    pick = (torch.rand(n, generator=gen) < p).nonzero().squeeze(1)
    out = x.clone()
    m = len(pick)
    if not m:
        return out
    u = lambda lo, hi, k=m: lo + (hi - lo) * torch.rand(k, generator=gen)  # noqa: E731
    sub = x[pick]
    s = u(0.88, 1.06)
    ang = u(-4, 4) * np.pi / 180
    theta = torch.zeros(m, 2, 3)
    # In normalized coordinates the 2:1 view makes a rotation anisotropic: scale its terms.
    theta[:, 0, 0] = s * torch.cos(ang)
    theta[:, 0, 1] = -s * torch.sin(ang) * 0.5 + u(-0.06, 0.06)
    theta[:, 1, 0] = s * torch.sin(ang) * 2.0
    theta[:, 1, 1] = s * torch.cos(ang) * u(0.95, 1.05)
    theta[:, 0, 2] = u(-0.04, 0.04)
    theta[:, 1, 2] = u(-0.06, 0.06)
    grid = F.affine_grid(theta, list(sub.shape), align_corners=False)
    sub = F.grid_sample(sub, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Resolution: a plate seen smaller (40-100 px wide) and scaled back up, or a Gaussian blur.
    r = torch.rand(m, generator=gen)
    for j in (r < 0.25).nonzero().squeeze(1).tolist():
        tw = int(u(40, 100, 1))
        th = max(12, tw // 2)
        small = F.interpolate(sub[j : j + 1], size=(th, tw), mode="area")
        sub[j : j + 1] = F.interpolate(small, size=(INPUT_H, INPUT_W), mode="bilinear", align_corners=False)
    blur = ((r >= 0.25) & (r < 0.45)).nonzero().squeeze(1)
    if len(blur):
        k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
        k2 = (k[:, None] * k[None, :]) / 256.0
        w = k2.expand(3, 1, 5, 5).contiguous()
        sub[blur] = F.conv2d(F.pad(sub[blur], (2, 2, 2, 2), mode="replicate"), w, groups=3)
    # Light: contrast around the mean, brightness, a little colour cast.
    c = u(0.6, 1.3).view(m, 1, 1, 1)
    b = u(-40, 40).view(m, 1, 1, 1)
    cast = 1 + 0.08 * (torch.rand(m, 3, 1, 1, generator=gen) * 2 - 1)
    mean = sub.mean(dim=(1, 2, 3), keepdim=True)
    sub = (sub - mean) * c + mean + b
    sub = sub * cast
    grey = (torch.rand(m, generator=gen) < 0.1).nonzero().squeeze(1)
    if len(grey):
        sub[grey] = sub[grey].mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    noisy = (torch.rand(m, generator=gen) < 0.3).float().view(m, 1, 1, 1)
    sub = sub + noisy * u(0, 8).view(m, 1, 1, 1) * torch.randn(sub.shape, generator=gen)
    sub = sub.clamp(0, 255).round()
    jpeg = (torch.rand(m, generator=gen) < 0.3).nonzero().squeeze(1).tolist()
    for j in jpeg:
        q = int(u(30, 90, 1))
        img = sub[j].permute(1, 2, 0).to(torch.uint8).numpy()
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            sub[j] = torch.from_numpy(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()).permute(2, 0, 1).float()
    out[pick] = sub
    return out


# ---------------------------------------------------------------- measuring


def read_batch(
    model, x_uint8: np.ndarray, alphabet: str, pad: str, regions: list[str], softmaxed: bool, batch: int = 256
) -> list[tuple[str, str, float]]:
    """(text after round_character, region, lowest slot probability) per image, as CctOnnxReader."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(x_uint8), batch):
            plate, region = model(torch.from_numpy(x_uint8[i : i + batch]))
            if not softmaxed:
                plate, region = plate.softmax(-1), region.softmax(-1)
            probs, idx = plate.max(-1)
            reg = region.argmax(-1)
            for k in range(len(idx)):
                text = "".join(alphabet[j] for j in idx[k].tolist() if alphabet[j] != pad)
                r = regions[int(reg[k])]
                out.append((round_character(text, r), r, float(probs[k].min())))
    return out


def exact(reads: list[tuple[str, str, float]], labels: list[str]) -> float:
    return sum(r[0] == y for r, y in zip(reads, labels)) / max(1, len(labels))


def select_epoch(history: list[dict], tolerance: float) -> int:
    """The rule fixed before training: among the evaluated states (0 = the original) whose
    plates-us-ocr-val exact is at least the original's minus `tolerance` and whose Argentine
    held-out exact is at least 96%, the highest synthetic-val exact (convention labels); ties
    go to the higher us-ocr-val, then to the earlier state. Without a us-ocr-val figure the
    constraint is the Argentine one only. None qualifying: the best us-ocr-val.

    With reviewed plates held out (`reviews`: the operator's own cameras, the data the reader
    is deployed on), they come first: the highest reviewed exact among the qualifying states,
    then the synthetic figure."""
    base_us = history[0].get("us")
    ok = [h for h in history if h["ar"] >= 0.96 and (base_us is None or h["us"] >= base_us - tolerance - 1e-9)]
    if not ok:
        return max(history, key=lambda h: (h.get("us") or 0, -h["epoch"]))["epoch"]
    return max(ok, key=lambda h: (h.get("reviews") or 0.0, h["synth"], h.get("us") or 0, -h["epoch"]))["epoch"]


# ---------------------------------------------------------------- training


def freeze_stem(model, n: int) -> list[str]:
    """Freeze the first `n` convolutions of the stem (graph order); returns their names."""
    import torch

    convs = [
        name
        for name, mod in model.named_modules()
        if isinstance(mod, torch.nn.Conv2d) and "conv_stem" in name and "max_blur" not in name
    ]
    for name in convs[:n]:
        for p in model.get_submodule(name).parameters():
            p.requires_grad_(False)
    return convs[:n]


def train_only(model, mapping: dict[str, str], parts: str) -> list[str]:
    """Freeze every tensor whose ONNX name (`mapping`) contains none of the comma-separated
    `parts`; returns the ONNX names left trainable."""
    wanted = [s for s in parts.split(",") if s]
    kept = []
    for name, p in model.named_parameters():
        onnx_name = mapping.get(name, name)
        if any(s in onnx_name for s in wanted) and p.requires_grad:
            kept.append(onnx_name)
        else:
            p.requires_grad_(False)
    if not kept:
        raise AlprError(f"no trainable tensor's name contains any of {parts!r}: nothing to train")
    return kept


def split_stem(model, convs: int = 5):
    """(stem, head): the module cut after the activation of its `convs`-th stem convolution.

    With a frozen stem the student and the original compute the same stem features: the
    training step computes them once and runs both heads on them (the stem is most of a
    forward pass's time on the CPU). Both parts share `model`'s parameters.
    """
    import torch
    import torch.fx as fx

    conv_names = [
        name
        for name, mod in model.named_modules()
        if isinstance(mod, torch.nn.Conv2d) and "conv_stem" in name and "max_blur" not in name
    ]
    last = conv_names[convs - 1]
    nodes = list(model.graph.nodes)
    conv_node = next(n for n in nodes if n.op == "call_module" and n.target == last)
    # The activation x * sigmoid(x) after the convolution: the Mul that uses the conv's output twice.
    cut = next(
        n for n in nodes[nodes.index(conv_node) :] if n.op == "call_module" and conv_node in n.args and len(n.args) == 2
    )
    stem_g, env = fx.Graph(), {}
    for n in nodes[: nodes.index(cut) + 1]:
        env[n] = stem_g.node_copy(n, lambda a: env[a])
    stem_g.output(env[cut])
    head_g, env2 = fx.Graph(), {cut: None}
    env2[cut] = head_g.placeholder("features")

    def arg(a):
        if a not in env2:
            if a.op != "get_attr":
                raise AlprError(f"the head needs {a.name}, computed before the cut at {cut.name}")
            env2[a] = head_g.node_copy(a)
        return env2[a]

    for n in nodes[nodes.index(cut) + 1 :]:
        env2[n] = head_g.node_copy(n, arg)
    stem, head = fx.GraphModule(model, stem_g), fx.GraphModule(model, head_g)
    return stem, head


def batch_loss(model, teacher, xb, yb, rb, n_synth: int, cfg: FineTuning) -> tuple[torch.Tensor, dict]:
    """Cross-entropy per slot + region cross-entropy + KL to the frozen original.

    `xb` is a float NHWC batch whose first `n_synth` items are synthetic; the original reads
    the real items and the first `kd_synth_items` synthetic ones (KL at temperature T, scaled by T^2).
    `model` may be (stem, head, original's head) of `split_stem` (a frozen stem, computed once).
    """
    import torch
    import torch.nn.functional as F

    stem_feats = None
    if isinstance(model, tuple):  # (stem, head, original's head): the stem computed once
        stem, model, teacher = model[0], model[1], model[2]
        with torch.no_grad():
            stem_feats = stem(xb)
        plate, region = model(stem_feats)
    else:
        plate, region = model(xb)
    ce = F.cross_entropy(plate.reshape(-1, plate.shape[-1]), yb.reshape(-1))
    reg = F.cross_entropy(region, rb)
    kd_idx = torch.cat([torch.arange(min(cfg.kd_synth_items, n_synth)), torch.arange(n_synth, len(xb))])
    kd = torch.zeros(())
    if len(kd_idx):
        T = cfg.kd_temperature
        with torch.no_grad():
            tp, tr = teacher(xb[kd_idx] if stem_feats is None else stem_feats[kd_idx])
            tps = (tp.clamp_min(1e-8).log() / T).softmax(-1)
            trs = (tr.clamp_min(1e-8).log() / T).softmax(-1)
        lp = F.log_softmax(plate[kd_idx] / T, -1)
        lr_ = F.log_softmax(region[kd_idx] / T, -1)
        kl = (tps * (tps.clamp_min(1e-8).log() - lp)).sum(-1).mean(-1) + (trs * (trs.clamp_min(1e-8).log() - lr_)).sum(
            -1
        )
        w = torch.where(kd_idx < n_synth, cfg.kd_synth, cfg.kd_real)
        kd = (w * kl).sum() / len(xb) * T * T
    loss = ce + cfg.region_weight * reg + kd
    return loss, {"ce": float(ce.detach()), "kd": float(kd.detach()), "region": float(reg.detach())}


def finetune(cfg: FineTuning, log=print) -> dict:
    """Prepare the data, fine-tune, select, write `out_dir/cct_us.onnx` (+ config); returns a summary."""
    import torch
    from fast_plate_ocr.inference.config import PlateConfig

    from alpr_app.models.evaluate import load_crops
    from alpr_app.models.train_reader import load_real_crops

    started = time.time()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    base_path = os.path.join(os.path.abspath(cfg.models_dir), cfg.base_model)
    config_path = os.path.join(
        os.path.abspath(cfg.models_dir), f"{os.path.splitext(cfg.base_model)[0]}_plate_config.yaml"
    )
    for p in (base_path, config_path):
        if not os.path.isfile(p):
            raise AlprError(f"{p} not found (set --models-dir)")
    pc = PlateConfig.from_yaml(config_path)
    alphabet, pad, slots, regions = pc.alphabet, pc.pad_char, pc.max_plate_slots, list(pc.plate_regions)
    region_index = {r: i for i, r in enumerate(regions)}

    # --- data
    t0 = time.time()
    synth_rows = load_crops(render_synth(cfg.work_dir, cfg.synth_crops, cfg.synth_seed, cfg.workers))
    val_rows = load_crops(render_synth(cfg.work_dir, cfg.synth_val_crops, cfg.synth_val_seed, cfg.workers))
    x_syn = load_prepared(synth_rows, cfg.margin)
    t_syn = [t for _, t in synth_rows]
    x_ar, t_ar, n_ar = ar_train_views(cfg.datasets_dir, cfg.ar_variants, cfg.margin, rng)
    if cfg.ro_variants:
        x_ro, t_ro, n_ro, seen_ro = ro_pseudo_labels(cfg, rng)
    else:
        x_ro, t_ro, n_ro, seen_ro = np.empty((0, INPUT_H, INPUT_W, 3), np.uint8), [], 0, 0
    rev = reviewed_views(cfg, rng, regions)
    log(
        f"data: {len(t_syn)} synthetic (seed {cfg.synth_seed}), {n_ar} Argentine train crops x{cfg.ar_variants}, "
        f"{n_ro} of {seen_ro} Romanian boxes pseudo-labelled x{cfg.ro_variants}, "
        f"{rev.n_train} reviewed crops x{cfg.review_variants} ({len(rev.test_labels)} held out), "
        f"in {time.time() - t0:.0f}s"
    )
    x_real = np.concatenate([x_ar, x_ro, rev.x_train])
    t_real = t_ar + t_ro + rev.t_train
    r_real = [region_index["Argentina"]] * len(t_ar) + [region_index["Romania"]] * len(t_ro) + rev.r_train
    y_syn = torch.from_numpy(encode(t_syn, alphabet, pad, slots))
    r_syn = torch.tensor([region_index[synth_region(t)] for t in t_syn])
    y_real = torch.from_numpy(encode(t_real, alphabet, pad, slots))
    r_real_t = torch.tensor(r_real)

    # Measuring sets (prepared once, without augmentation).
    x_val = load_prepared(val_rows, cfg.margin)
    val_raw = [t for _, t in val_rows]
    val_conv = [convention_label(t, synth_region(t)) for t in val_raw]
    ar_rows = load_real_crops(cfg.datasets_dir, "test")
    x_arv, arv_labels = load_prepared(ar_rows, cfg.margin), [t for _, t in ar_rows]
    us_csv = os.path.join(os.path.abspath(cfg.datasets_dir), "plates-us-ocr-val", "annotations.csv")
    us_rows = load_crops(us_csv) if cfg.us_val and os.path.isfile(us_csv) else []
    x_us, us_labels = (load_prepared(us_rows, cfg.margin), [t for _, t in us_rows]) if us_rows else (None, [])

    # --- models
    teacher, _ = load_torch_model(base_path, trainable=False)
    for p in teacher.parameters():
        p.requires_grad_(False)
    model, mapping = load_torch_model(base_path, trainable=True)
    originals = [p.detach().clone() for p in model.parameters()]
    if cfg.init:
        started_from, init_mapping = load_torch_model(cfg.init, trainable=True)
        if init_mapping != mapping:
            raise AlprError(f"{cfg.init} is not a copy of the {cfg.base_model} graph")
        model.load_state_dict(started_from.state_dict())
        log(f"starting from {cfg.init}")
    frozen = freeze_stem(model, cfg.frozen_stem_convs)
    if cfg.train_only:
        log(f"trained alone: {', '.join(train_only(model, mapping, cfg.train_only))}")
    trainable = [p for p in model.parameters() if p.requires_grad]
    log(f"frozen stem convolutions: {frozen}")
    log(
        f"trainable tensors {len(trainable)} ({sum(p.numel() for p in trainable)} values) of "
        f"{sum(1 for _ in model.parameters())}"
    )

    def measure(epoch: int, net, softmaxed: bool) -> dict:
        net.eval()
        t = time.time()
        reads = read_batch(net, x_val, alphabet, pad, regions, softmaxed)
        h = {
            "epoch": epoch,
            "synth": exact(reads, val_conv),
            "synth_raw": exact(reads, val_raw),
            "ar": exact(read_batch(net, x_arv, alphabet, pad, regions, softmaxed), arv_labels),
        }
        if x_us is not None:
            h["us"] = exact(read_batch(net, x_us, alphabet, pad, regions, softmaxed), us_labels)
        if rev.test_labels:
            h["reviews"] = exact(read_batch(net, rev.x_test, alphabet, pad, regions, softmaxed), rev.test_labels)
        net.train()
        log(
            f"epoch {epoch}: "
            + " ".join(f"{k} {v:.4f}" for k, v in h.items() if k != "epoch")
            + f" (measured in {time.time() - t:.0f}s) elapsed {time.time() - started:.0f}s"
        )
        return h

    # The original's figures depend only on its file and the measuring sets: kept in work_dir
    # (a measuring pass costs minutes on a busy 2-core machine).
    key = hashlib.sha256(
        json.dumps([_sha256(base_path), cfg.margin, val_raw, arv_labels, us_labels, rev.test_labels]).encode()
    )
    cache = os.path.join(cfg.work_dir, f"original-{key.hexdigest()[:16]}.json")
    if os.path.isfile(cache):
        with open(cache) as f:
            history = [json.load(f)]
        log(
            "epoch 0 (the original, from "
            + cache
            + "): "
            + " ".join(f"{k} {v:.4f}" for k, v in history[0].items() if k != "epoch")
        )
    else:
        history = [measure(0, teacher, True)]
        os.makedirs(cfg.work_dir, exist_ok=True)
        with open(cache, "w") as f:
            json.dump(history[0], f)
    states = {0: {k: v.detach().clone() for k, v in teacher.state_dict().items()}}  # the original

    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=0.0)
    originals = [p0 for p, p0 in zip(model.parameters(), originals) if p.requires_grad]
    steps_per_epoch = cfg.epoch_steps or len(t_syn) // cfg.batch_synth
    total_steps = cfg.epochs * steps_per_epoch

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        q = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
        return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * q)))

    gen = torch.Generator().manual_seed(cfg.seed)
    parts3 = None
    if cfg.frozen_stem_convs == 5:  # the whole stem frozen: the original's stem is the student's
        stem, head = split_stem(model, 5)
        parts3 = (stem, head, split_stem(teacher, 5)[1])
    train_started = time.time()
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        order = np.resize(rng.permutation(len(t_syn)), steps_per_epoch * cfg.batch_synth)
        sums = {"loss": 0.0, "ce": 0.0, "kd": 0.0, "region": 0.0}
        for k in range(steps_per_epoch):
            si = order[k * cfg.batch_synth : (k + 1) * cfg.batch_synth]
            ri = rng.integers(0, len(t_real), cfg.batch_real)
            xb = torch.from_numpy(np.concatenate([x_syn[si], x_real[ri]])).permute(0, 3, 1, 2).float()
            xb = augment(xb, gen, cfg.aug_p).permute(0, 2, 3, 1).contiguous()
            yb = torch.cat([y_syn[si], y_real[ri]])
            rb = torch.cat([r_syn[si], r_real_t[ri]])
            loss, parts = batch_loss(parts3 or model, teacher, xb, yb, rb, len(si), cfg)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            if cfg.anchor:
                with torch.no_grad():
                    pull = lr_at(step) * cfg.anchor
                    for p, p0 in zip(trainable, originals):
                        p.sub_(pull * (p - p0))
            step += 1
            sums["loss"] += float(loss.detach())
            for name, v in parts.items():
                sums[name] += v
            if k % 50 == 0:
                log(
                    f"epoch {epoch}/{cfg.epochs} step {k}/{steps_per_epoch} loss {float(loss):.4f} "
                    + " ".join(f"{n} {v:.4f}" for n, v in parts.items())
                    + f" lr {lr_at(step):.2e} elapsed {time.time() - started:.0f}s"
                )
        log(f"epoch {epoch} means: " + " ".join(f"{n} {v / steps_per_epoch:.4f}" for n, v in sums.items()))
        history.append(measure(epoch, model, False))
        states[epoch] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        # Every epoch's model on disk too (not only the selected one), to study what changed.
        write_onnx(base_path, model, mapping, os.path.join(cfg.out_dir, "epochs", f"epoch-{epoch}.onnx"))
        if cfg.stop_after and epoch >= cfg.stop_after:
            log(f"stopping after epoch {epoch} (--stop-after)")
            break

    chosen = select_epoch(history, cfg.select_tolerance)
    log(f"selected state {chosen} by the rule in select_epoch")
    model.load_state_dict(states[chosen])
    os.makedirs(cfg.out_dir, exist_ok=True)
    out_path = os.path.join(cfg.out_dir, OUT_FILE)
    if chosen == 0:
        shutil.copyfile(base_path, out_path)
    else:
        write_onnx(base_path, model, mapping, out_path)
    shutil.copyfile(config_path, os.path.join(cfg.out_dir, CONFIG_FILE))
    # The written ONNX must compute what the torch model computes.
    import onnxruntime as ort

    sess = ort.InferenceSession(out_path, providers=["CPUExecutionProvider"])
    probe = x_us[:64] if x_us is not None else x_val[:64]
    onnx_plate, onnx_region = sess.run(["plate", "region"], {"input": probe})
    model.eval()
    with torch.no_grad():
        tp_, tr_ = model(torch.from_numpy(probe))
    diff = max(
        float(np.abs(onnx_plate - tp_.softmax(-1).numpy()).max()),
        float(np.abs(onnx_region - tr_.softmax(-1).numpy()).max()),
    )
    log(f"wrote {out_path}; onnxruntime vs torch max abs diff {diff:.2e}")
    summary = {
        "training": asdict(cfg),
        "base_sha256": _sha256(base_path),
        "out_sha256": _sha256(out_path),
        "history": history,
        "selected_epoch": chosen,
        "max_abs_diff": diff,
        "data": {
            "synthetic": len(t_syn),
            "ar_train_crops": n_ar,
            "ro_pseudo_labelled": n_ro,
            "ro_boxes": seen_ro,
            "synth_val": len(val_raw),
            "ar_held_out": len(arv_labels),
            "us_val": len(us_labels),
            "reviewed_train_crops": rev.n_train,
            "reviewed_held_out": len(rev.test_labels),
        },
        # The reviewed plates never trained on, before (the original) and after (the selected state).
        "reviews_held_out": {
            "crops": len(rev.test_labels),
            "before": history[0].get("reviews"),
            "after": next(h for h in history if h["epoch"] == chosen).get("reviews"),
        },
        "seconds_total": round(time.time() - started),
        "seconds_training": round(time.time() - train_started),
    }
    with open(os.path.join(cfg.out_dir, "finetune_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m alpr_app.models.finetune_reader",
        description="Fine-tune the CCT-XS v2 plate reader for US plates; writes cct_us.onnx.",
    )
    p.add_argument("--out", required=True, help="folder for cct_us.onnx, its plate config and a summary JSON")
    defaults = FineTuning(out_dir="")
    for field, value in asdict(defaults).items():
        if field == "out_dir":
            continue
        flag = "--" + field.replace("_", "-")
        if isinstance(value, bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=value)
        else:
            p.add_argument(flag, type=str if value is None else type(value), default=value)
    p.add_argument("--log", help="also append progress lines to this file")
    args = vars(p.parse_args(argv))
    log_path = args.pop("log")
    if args.get("datasets_dir") == defaults.datasets_dir and os.environ.get("ALPR_DATASETS"):
        args["datasets_dir"] = os.environ["ALPR_DATASETS"]
    if args.get("models_dir") == defaults.models_dir and os.environ.get("ALPR_MODELS_DIR"):
        args["models_dir"] = os.environ["ALPR_MODELS_DIR"]
    cfg = FineTuning(out_dir=args.pop("out"), **args)

    def log(line: str) -> None:
        print(line, flush=True)
        if log_path:
            with open(log_path, "a") as f:
                f.write(line + "\n")

    summary = finetune(cfg, log)
    log(json.dumps({k: summary[k] for k in ("selected_epoch", "history", "seconds_total")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
