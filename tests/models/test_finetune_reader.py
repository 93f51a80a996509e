"""The CCT fine-tuning (alpr_app/models/finetune_reader.py) and its committed result.

The conversion test reads the pretrained v2 model from the models dir ($ALPR_MODELS_DIR, else
../shared/models); without it that test skips, except under CI=true, where the module fails
to collect (as test_backends.py). The other tests need only the committed weights/cct_us.onnx.
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from alpr.errors import AlprError
from alpr.synth.datasets import plate_crop
from alpr_app.models.finetune_reader import (
    CONFIG_FILE,
    OUT_FILE,
    FineTuning,
    batch_loss,
    convention_label,
    encode,
    freeze_stem,
    load_torch_model,
    prepare,
    select_epoch,
    split_stem,
    synth_region,
    train_only,
    write_onnx,
)
from services.recognizer.models.model_files import resolve_models_dir

pytestmark = pytest.mark.slow  # trains (a few steps) on the CPU

MODELS = resolve_models_dir()
V2 = MODELS / "cct_xs_v2_global.onnx"
WEIGHTS = Path(__file__).resolve().parents[2] / "services" / "recognizer" / "models" / "weights"
CCT_US = WEIGHTS / OUT_FILE

if not V2.is_file() and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI=true and the pretrained model is missing: {V2}")
needs_v2 = pytest.mark.skipif(not V2.is_file(), reason=f"no pretrained models in {MODELS} (set ALPR_MODELS_DIR)")

ALPHABET, PAD = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_", "_"
US = 61  # index of 'United States' in the v2 plate config's regions


def _crops(seed: int, n: int) -> tuple[np.ndarray, list[str]]:
    items = [plate_crop(seed, i) for i in range(n)]
    return np.stack([prepare(c, 0.08) for c, _ in items]), [t for _, t in items]


def _ort(path: Path, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["plate", "region"], {"input": x})


@needs_v2
def test_the_torch_conversion_of_the_pretrained_reader_matches_onnxruntime():
    x, _ = _crops(8201, 6)
    x = np.concatenate([x, np.random.default_rng(0).integers(0, 256, (2, 64, 128, 3), dtype=np.uint8)])
    ref_plate, ref_region = _ort(V2, x)
    model, mapping = load_torch_model(str(V2))
    model.eval()
    with torch.no_grad():
        plate, region = model(torch.from_numpy(x))
    # The trainable module returns logits: its softmax is the ONNX model's output.
    assert np.abs(plate.softmax(-1).numpy() - ref_plate).max() < 1e-4
    assert np.abs(region.softmax(-1).numpy() - ref_region).max() < 1e-4
    # Every weight is trainable except the constants named in finetune_reader's docstring.
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert len(frozen) == 2 and all("max_blur_pooling" in n for n in frozen)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable > 780_000 and len(mapping) == sum(1 for p in model.parameters() if p.requires_grad)
    left = [float(b) for b in model.buffers() if b.is_floating_point()]
    assert len(left) == 9 and min(left) == pytest.approx(1 / 255) and max(left) == pytest.approx(48**-0.5)


@functools.cache
def _converted():
    if not CCT_US.is_file():
        pytest.fail(f"{CCT_US} is missing: it is committed with the repository")
    return load_torch_model(str(CCT_US))


@functools.cache
def _frozen():
    """The committed model as the frozen original of a fine-tuning (probabilities out; never changed)."""
    _converted()
    return load_torch_model(str(CCT_US), trainable=False)


def _committed():
    """A fresh trainable copy of the committed model (converted once per session: seconds each)."""
    model, mapping = _converted()
    return copy.deepcopy(model), dict(mapping)


def test_two_optimizer_steps_on_a_tiny_batch_lower_the_loss():
    student, _ = _committed()
    teacher, _ = _frozen()
    frozen = freeze_stem(student, 3)
    x, texts = _crops(8202, 4)
    real, real_texts = _crops(8203, 2)
    xb = torch.from_numpy(np.concatenate([x, real])).float()
    # Targets the reader does not produce yet (a rotated text), so the loss has room to fall.
    targets = [t[1:] + t[0] for t in texts + real_texts]
    yb = torch.from_numpy(encode(targets, ALPHABET, PAD, 10))
    rb = torch.tensor([US] * 6)
    cfg = FineTuning(out_dir="", kd_synth_items=2)
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-3)
    before, _ = batch_loss(student, teacher, xb, yb, rb, 4, cfg)
    for _ in range(2):
        loss, parts = batch_loss(student, teacher, xb, yb, rb, 4, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after, _ = batch_loss(student, teacher, xb, yb, rb, 4, cfg)
    assert parts["kd"] > 0  # the frozen original's term is part of it
    assert float(after) < float(before.detach()) - 0.05
    assert len(frozen) == 3
    for name in frozen:  # the frozen stem got no gradient and did not move
        assert all(p.grad is None for p in student.get_submodule(name).parameters())


def test_training_the_plate_head_alone_moves_only_the_plate_head():
    student, mapping = _committed()
    teacher, _ = _frozen()
    kept = train_only(student, mapping, "plate_1/")
    assert len(kept) == 2 and all("/plate_1/" in n for n in kept)  # the 96 x 37 classifier and its bias
    before = {n: p.detach().clone() for n, p in student.named_parameters()}
    x, texts = _crops(8206, 4)
    xb = torch.from_numpy(x).float()
    yb = torch.from_numpy(encode([t[1:] + t[0] for t in texts], ALPHABET, PAD, 10))
    with torch.no_grad():
        region_before = student(xb)[1]
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-2)
    loss, _ = batch_loss(student, teacher, xb, yb, torch.tensor([US] * 4), 4, FineTuning(out_dir="", kd_synth_items=2))
    opt.zero_grad()
    loss.backward()
    opt.step()
    moved = {mapping.get(n, n) for n, p in student.named_parameters() if not torch.equal(p, before[n])}
    assert moved == set(kept)
    with torch.no_grad():
        assert torch.equal(student(xb)[1], region_before)  # the region head shares nothing with it
    with pytest.raises(AlprError, match="nothing to train"):
        train_only(_committed()[0], mapping, "no_such_layer/")


def test_new_weights_go_back_into_the_same_onnx_graph(tmp_path):
    model, mapping = _committed()
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.mul_(1.05).add_(0.01)
    out = write_onnx(str(CCT_US), model, mapping, str(tmp_path / "changed.onnx"))
    x, _ = _crops(8204, 4)
    plate, region = _ort(Path(out), x)
    base_plate, _ = _ort(CCT_US, x)
    model.eval()
    with torch.no_grad():
        tp, tr = model(torch.from_numpy(x))
    assert np.abs(plate - tp.softmax(-1).numpy()).max() < 1e-4
    assert np.abs(region - tr.softmax(-1).numpy()).max() < 1e-4
    assert np.abs(plate - base_plate).max() > 1e-3  # the change did reach the file


def test_the_stem_computed_once_gives_the_whole_models_outputs():
    model, _ = _committed()
    stem, head = split_stem(model, 5)
    x = torch.from_numpy(_crops(8205, 3)[0]).float()
    with torch.no_grad():
        whole, parts = model(x), head(stem(x))
    assert all(torch.equal(a, b) for a, b in zip(whole, parts))
    ids = {id(p) for p in model.parameters()}
    assert all(id(p) in ids for p in head.parameters())  # training the head trains the model


def test_the_committed_reader_loads_unchanged_and_reads_unseen_synthetic_plates():
    from services.recognizer.models.onnx_models import CctOnnxReader

    assert (WEIGHTS / CONFIG_FILE).is_file()
    assert CCT_US.stat().st_size < 4_500_000
    reader = CctOnnxReader(WEIGHTS, model=OUT_FILE)
    assert reader.name.startswith("cct_us@")
    # Seed 8101 is the fine-tuning's synthetic validation set: never trained on.
    items = [plate_crop(8101, i) for i in range(12)]
    reads = reader.read([c for c, _ in items])
    labels = [convention_label(t, synth_region(t)) for _, t in items]
    right = sum(r.text == y for r, y in zip(reads, labels))
    assert right >= 11, list(zip(labels, [r.text for r in reads]))
    assert all(r.region in ("United States", "Argentina") for r in reads)


def test_synthetic_labels_follow_the_readers_round_character_rule():
    assert convention_label("ZOOM", synth_region("ZOOM")) == "Z00M"  # US vanity: O written 0
    assert convention_label("ABO1234", synth_region("ABO1234")) == "AB01234"  # US: 0 in a letter slot too
    assert synth_region("AO123BC") == "Argentina" and convention_label("AO123BC", "Argentina") == "AO123BC"
    assert convention_label("I1I", "United States") == "I1I"  # I and 1 are never folded


def test_selection_rule_keeps_us_val_and_argentina_then_maximizes_synthetic():
    h = [
        {"epoch": 0, "us": 0.94, "ar": 0.98, "synth": 0.80},
        {"epoch": 1, "us": 0.937, "ar": 0.98, "synth": 0.95},
        {"epoch": 2, "us": 0.93, "ar": 0.98, "synth": 0.99},  # us-val fell too far
        {"epoch": 3, "us": 0.95, "ar": 0.94, "synth": 0.99},
    ]  # Argentine held-out fell
    assert select_epoch(h, 0.005) == 1
    assert select_epoch([replace_us(x) for x in h], 0.005) == 2  # without us-val, Argentina alone


def replace_us(h: dict) -> dict:
    return {**h, "us": None} if h["epoch"] else {k: v for k, v in h.items() if k != "us"}


@needs_v2
def test_reviewed_plates_held_out_decide_the_state_first():
    h = [
        {"epoch": 0, "us": 0.94, "ar": 0.98, "synth": 0.80, "reviews": 0.70},
        {"epoch": 1, "us": 0.94, "ar": 0.98, "synth": 0.95, "reviews": 0.75},
        {"epoch": 2, "us": 0.94, "ar": 0.98, "synth": 0.90, "reviews": 0.85},  # the operator's cameras win
        {"epoch": 3, "us": 0.90, "ar": 0.98, "synth": 0.99, "reviews": 0.99},  # ... but not at us-val's cost
    ]
    assert select_epoch(h, 0.005) == 2


@needs_v2
@pytest.mark.timeout(600)
def test_fine_tuning_from_reviews_trains_measures_them_held_out_and_records_it(tmp_path):
    # `alpr train cct --from-reviews` as an operator runs it: revenue's reviewed crops exported,
    # the plates on one side of the split trained on, the others measured before and after, the
    # run recorded in the model card beside cct_us.onnx, and the export deleted.
    import json

    from services.recognizer.models.onnx_models import CctOnnxReader
    from tests.conftest import run_cli
    from tests.support.datasets import fake_real_dataset
    from tests.support.reviews import reviewed_store

    data = tmp_path / "data"
    reviewed_store(data, stays=16)
    fake_real_dataset(str(tmp_path / "datasets"))
    out = tmp_path / "out"
    ran = run_cli(
        "train", "cct", "--from-reviews", "--datasets", str(tmp_path / "datasets"), "--out", str(out),
        "--work-dir", str(tmp_path / "work"), "--synth-crops", "32", "--synth-val-crops", "8", "--epochs", "1",
        "--epoch-steps", "2", "--ro-variants", "0", "--seed", "4343",
        env={"ALPR_DATA_DIR": str(data), "ALPR_MODELS_DIR": str(MODELS)}, timeout=580,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-3000:]
    assert "reviewed crops: 28 of 14 plates" in ran.stderr, ran.stderr[-1000:]
    summary = json.loads((out / "finetune_summary.json").read_text())
    held = summary["reviews_held_out"]
    trained = summary["data"]["reviewed_train_crops"]
    assert held["crops"] > 0 and trained > 0 and held["crops"] + trained == 28  # every crop on one side
    assert f"{trained} reviewed crops x8 ({held['crops']} held out)" in ran.stderr
    assert all("reviews" in h for h in summary["history"]) and 0.0 <= held["before"] <= 1.0
    assert held["after"] == next(h for h in summary["history"] if h["epoch"] == summary["selected_epoch"])["reviews"]
    reads = CctOnnxReader(out, model=OUT_FILE).read([plate_crop(1, 0)[0]])
    assert reads[0].text  # the written model reads
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Trained from reviews" in card and "`alpr train cct --from-reviews` wrote `cct_us.onnx`" in card
    assert "| reviewed crops | 28 of 14 plates, 1 reviewers, 8 corrected" in card
    assert f"{held['crops']} crops: exact {held['before']:.4f} before, {held['after']:.4f} after" in card
    assert not (data / "training" / "reviews").exists()
