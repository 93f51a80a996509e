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
    """The CRNN's run (`alpr train reader --from-reviews`): its figures are in the checkpoint."""
    import torch

    ckpt = torch.load(weights_path, map_location="cpu", weights_only=True)
    training = ckpt.get("training") or {}
    return _append(
        Path(weights_path),
        export,
        command="alpr train reader --from-reviews",
        started_from=training.get("init") or "random weights",
        schedule=f"{training.get('epochs')} epochs",
        held_out=ckpt.get("reviews_held_out") or {},
        synth_val=ckpt.get("synth_val_exact"),
    )


def record_cct_review_training(weights_path: str, export: ReviewExport, summary: dict) -> Path:
    """The CCT's run (`alpr train cct --from-reviews`): its figures are in finetune's summary."""
    training = summary.get("training") or {}
    chosen = summary.get("selected_epoch")
    state = next((h for h in summary.get("history", []) if h.get("epoch") == chosen), {})
    return _append(
        Path(weights_path),
        export,
        command="alpr train cct --from-reviews",
        started_from=f"{training.get('base_model')} (sha256 {str(summary.get('base_sha256'))[:16]}…)",
        schedule=f"{training.get('epochs')} x {training.get('epoch_steps')} steps, state {chosen} selected"
        + (" (the original: no fine-tuned state qualified)" if chosen == 0 else ""),
        held_out=summary.get("reviews_held_out") or {},
        synth_val=state.get("synth"),
    )


def _append(
    weights: Path, export: ReviewExport, *, command: str, started_from: str, schedule: str, held_out: dict, synth_val
) -> Path:
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    lines = [
        "",
        f"## Trained from reviews, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"`{command}` wrote `{weights.name}` (sha256 {digest}…), starting from `{started_from}`, {schedule}.",
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
        f"| synthetic validation exact | {_figure(synth_val)} |",
        "",
    ]
    card = weights.parent / "MODEL_CARD.md"
    with open(card, "a") as f:
        f.write("\n".join(lines))
    return card
