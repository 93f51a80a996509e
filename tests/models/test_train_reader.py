"""The reader's training loop: online augmentation and a tiny end-to-end run on the CPU."""

from __future__ import annotations

import os
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from alpr.errors import AlprError
from alpr.synth.datasets import plate_crop
from alpr_app.models.train_reader import ReaderTraining, augment_batch, train_reader
from tests.support.datasets import fake_real_dataset

pytestmark = pytest.mark.slow  # trains (a few steps) on the CPU


def _batch(n: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return (torch.rand(n, 1, 32, 128, generator=g) * 255).round()


def test_augmentation_is_deterministic_by_seed_and_leaves_about_half_alone():
    x = _batch()
    widths = np.full(64, 200, np.int32)
    a = augment_batch(x, widths, torch.Generator().manual_seed(1))
    b = augment_batch(x, widths, torch.Generator().manual_seed(1))
    c = augment_batch(x, widths, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 255
    unchanged = sum(torch.equal(a[i], x[i]) for i in range(64))
    assert 16 <= unchanged <= 48  # AUG_P = 0.5 of the batch is augmented
    assert torch.equal(x, _batch())  # the input batch is not modified in place


def test_shrinking_keeps_small_plates_legible():
    # A crop already under 80 px is never shrunk further: its augmented view keeps the
    # fine detail (high-frequency energy) that a round trip through a smaller size removes.
    x = _batch(256)
    small = augment_batch(x, np.full(256, 60, np.int32), torch.Generator().manual_seed(3))
    large = augment_batch(x, np.full(256, 300, np.int32), torch.Generator().manual_seed(3))

    def detail(t: torch.Tensor) -> float:
        return float((t[..., 1:] - t[..., :-1]).abs().mean())

    assert detail(large) < detail(small)


@pytest.mark.timeout(300)
def test_a_tiny_training_run_renders_every_set_and_saves_a_loadable_reader(tmp_path):
    from services.recognizer.models.crnn_reader import CrnnPlateReader

    fake_real_dataset(str(tmp_path / "datasets"))
    cfg = ReaderTraining(
        out_dir=str(tmp_path / "out"),
        work_dir=str(tmp_path / "work"),
        datasets_dir=str(tmp_path / "datasets"),
        synth_crops=48,
        synth_val_crops=16,
        seed=4242,
        extra_seeds=(4250,),
        hard_seeds=(4260,),
        mixed_sets=(("train-real-ones", 4270),),
        real_repeats=2,
        epochs=1,
        batch=16,
        augment=True,
    )
    path = train_reader(cfg)
    for d in (
        "crops-4242-48",
        "crops-4250-48",
        "crops-4243-16",
        "crops-hard-4260-48",
        "crops-hard-4261-16",
        # A set under other conditions, and its validation set (its seed + 1).
        "crops-train-real-ones-4270-48",
        "crops-train-real-ones-4271-16",
    ):
        assert os.path.exists(tmp_path / "work" / d / ".complete")
    # The HARD sets are rendered under HARD's ranges: no plate narrower than its 60 px
    # (TRAIN draws from 40 px), so they are not TRAIN crops under another name.
    widths = {
        name: [cv2.imread(str(p)).shape[1] for p in (tmp_path / "work" / name / "crops").iterdir()]
        for name in ("crops-4250-48", "crops-hard-4260-48")
    }
    assert min(widths["crops-hard-4260-48"]) >= 50  # 60 px, turned and cut 3% inside at most
    assert min(widths["crops-4250-48"]) < 50
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert ckpt["training"]["extra_seeds"] == [4250] or ckpt["training"]["extra_seeds"] == (4250,)
    assert ckpt["training"]["augment"] is True
    reader = CrnnPlateReader(path)
    crop, _ = plate_crop(4242, 0)
    (read,) = reader.read([crop])
    assert isinstance(read.text, str) and 0.0 <= read.confidence <= 1.0
    assert reader.model.width == "small"

    # The wide reader trains on the same rendered sets and loads by its recorded width; a
    # second stage must keep the width of the weights it starts from.
    wide = train_reader(replace(cfg, out_dir=str(tmp_path / "wide"), width="wide"))
    assert CrnnPlateReader(wide).model.width == "wide"
    assert sum(p.numel() for p in CrnnPlateReader(wide).model.parameters()) > 1.5 * sum(
        p.numel() for p in reader.model.parameters()
    )
    with pytest.raises(AlprError, match="--width wide"):
        train_reader(replace(cfg, out_dir=str(tmp_path / "again"), init=wide))
    # The HARD test set's seed is never trained on.
    with pytest.raises(AlprError, match="9001"):
        train_reader(replace(cfg, out_dir=str(tmp_path / "again"), hard_seeds=(9001,)))
    with pytest.raises(AlprError, match="9001"):
        train_reader(replace(cfg, out_dir=str(tmp_path / "again"), mixed_sets=(("train-real-ones", 9001),)))
    with pytest.raises(AlprError, match="unknown conditions 'nope'"):
        train_reader(replace(cfg, out_dir=str(tmp_path / "again"), conditions="nope"))
    with pytest.raises(AlprError, match="unknown conditions 'nope'"):
        train_reader(replace(cfg, out_dir=str(tmp_path / "again"), mixed_sets=(("nope", 4280),)))


def test_mixed_sets_are_given_as_conditions_and_seed():
    from alpr_app.models.cli import _condition_seed

    assert _condition_seed("train-real-ones:2200") == ("train-real-ones", 2200)
    for bad in ("2200", "train-real-ones", "train-real-ones:", ":2200", "hard:-1"):
        with pytest.raises(AlprError, match="CONDITIONS:SEED"):
            _condition_seed(bad)


@pytest.mark.timeout(300)
def test_training_from_reviews_exports_trains_and_records_it_in_the_model_card(tmp_path):
    # `alpr train reader --from-reviews` as an operator runs it: revenue's reviewed crops (chDB
    # under the data dir) exported, trained on beside the synthetic and real sets, recorded in the
    # model card beside the weights, and the export deleted (ALPR data kept no longer than needed).
    from services.recognizer.models.recognizer import WEIGHTS_DIR
    from tests.conftest import run_cli
    from tests.support.reviews import reviewed_store

    data = tmp_path / "data"
    reviewed_store(data, stays=16)
    fake_real_dataset(str(tmp_path / "datasets"))
    out = tmp_path / "out"
    ran = run_cli(
        "train", "reader", "--from-reviews", "--datasets", str(tmp_path / "datasets"), "--out", str(out),
        "--work-dir", str(tmp_path / "work"), "--synth-crops", "48", "--synth-val-crops", "16", "--epochs", "1",
        "--batch", "16", "--seed", "4242", "--width", "wide", "--init", os.path.join(WEIGHTS_DIR, "reader.pt"),
        env={"ALPR_DATA_DIR": str(data)}, timeout=280,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "reviewed crops: 28 of 14 plates" in ran.stderr, ran.stderr[-1000:]
    ckpt = torch.load(out / "reader.pt", map_location="cpu", weights_only=True)
    held_out = ckpt["reviews_held_out"]
    assert held_out["crops"] > 0 and 0.0 <= held_out["before"] <= 1.0 and 0.0 <= held_out["after"] <= 1.0
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Trained from reviews" in card and "| reviewed crops | 28 of 14 plates, 1 reviewers, 8 corrected" in card
    assert f"{held_out['crops']} crops: exact {held_out['before']:.4f} before" in card
    assert not (data / "training" / "reviews").exists()
    # No reviewed crop, no run: said in one line.
    empty = tmp_path / "empty"
    reviewed_store(empty, stays=1)  # one stay, not decided yet
    none = run_cli("train", "reader", "--from-reviews", "--out", str(out), env={"ALPR_DATA_DIR": str(empty)})
    assert none.returncode == 2 and "no reviewed crops to train on" in none.stderr, none.stderr[-500:]


def _random_reader(path, width: str, seed: int) -> str:
    from services.recognizer.models.crnn import ALPHABET, INPUT_H, INPUT_W, Crnn

    torch.manual_seed(seed)
    model = Crnn(width)
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    ckpt = {"arch": "crnn-v1", "width": width, "alphabet": ALPHABET, "input": [INPUT_H, INPUT_W], "state_dict": state}
    ckpt["training"] = {"seed": seed}
    torch.save(ckpt, path)
    return str(path)


def test_a_soup_is_the_weighted_mean_of_two_readers_and_loads(tmp_path):
    from alpr_app.models.train_reader import average_readers
    from services.recognizer.models.crnn_reader import CrnnPlateReader

    a = _random_reader(tmp_path / "a.pt", "small", 1)
    b = _random_reader(tmp_path / "b.pt", "small", 2)
    path = average_readers(a, b, 0.7, str(tmp_path / "soup"))
    sa, sb, ss = (torch.load(p, weights_only=True)["state_dict"] for p in (a, b, path))
    moved = 0
    for k, v in ss.items():
        if v.is_floating_point():
            want = 0.3 * sa[k].float() + 0.7 * sb[k].float()
            assert torch.allclose(v.float(), want, atol=2e-3), k
            moved += not torch.equal(v, sb[k])
        else:
            assert torch.equal(v, sb[k])
    assert moved > 0  # the soup is not the second reader under another name
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["soup"]["weight_of_second"] == 0.7 and ckpt["soup"]["first"]["training"] == {"seed": 1}
    (read,) = CrnnPlateReader(path).read([plate_crop(4242, 0)[0]])
    assert isinstance(read.text, str)

    wide = _random_reader(tmp_path / "w.pt", "wide", 3)
    with pytest.raises(AlprError, match="different sizes"):
        average_readers(a, wide, 0.5, str(tmp_path / "bad"))
    for w in (0.0, 1.0, 1.5):
        with pytest.raises(AlprError, match=r"in \(0, 1\)"):
            average_readers(a, b, w, str(tmp_path / "bad"))
    with pytest.raises(AlprError, match="not found"):
        average_readers(a, str(tmp_path / "missing.pt"), 0.5, str(tmp_path / "bad"))
