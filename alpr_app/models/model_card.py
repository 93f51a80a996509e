"""The model card's record of a training run on reviewed crops (issue #16: "the model card records it").

Appended to the MODEL_CARD.md beside the weights it describes (the committed weights dir by
default), so the card says which reviewed data a reader has seen: how many crops, of how many
plates and cameras, from when, how many a reviewer corrected, and what the reader reads on the
reviewed plates it never trained on, before and after. No plate and no pass id is written:
the card is not ALPR data (the export it describes is, and is deleted after training).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from alpr_app.models.reviews_dataset import ReviewExport


def _figure(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def record_review_training(weights_path: str, export: ReviewExport) -> Path:
    import torch

    weights = Path(weights_path)
    ckpt = torch.load(weights, map_location="cpu", weights_only=True)
    held_out = ckpt.get("reviews_held_out") or {}
    training = ckpt.get("training") or {}
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    lines = [
        "",
        f"## Trained from reviews, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"`alpr train reader --from-reviews` wrote `{weights.name}` (sha256 {digest}…), "
        f"starting from `{training.get('init') or 'random weights'}`, {training.get('epochs')} epochs.",
        "",
        "| | |",
        "|---|---|",
        f"| reviewed crops | {export.crops} of {export.plates} plates, {export.reviewers} reviewers, "
        f"{export.corrected} corrected by a reviewer |",
        f"| cameras | {', '.join(export.cameras) or '—'} |",
        f"| first seen | {export.first_seen_from or '—'} to {export.first_seen_to or '—'} |",
        f"| left out | {', '.join(f'{k}: {v}' for k, v in export.left_out.items()) or 'none'} |",
        f"| reviewed plates held out (never trained on) | {held_out.get('crops', 0)} crops: exact "
        f"{_figure(held_out.get('before'))} before, {_figure(held_out.get('after'))} after |",
        f"| synthetic validation exact | {_figure(ckpt.get('synth_val_exact'))} |",
        "",
    ]
    card = weights.parent / "MODEL_CARD.md"
    with open(card, "a") as f:
        f.write("\n".join(lines))
    return card
