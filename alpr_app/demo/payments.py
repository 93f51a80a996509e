"""The demo's payment feed: what finance would send for the demo footage's vehicles.

Deterministic by vehicle: most pay by plate for their stay, some pay half, some hold a
monthly permit, and some do not pay at all (they become violations). Payments go through the
revenue service's authenticated API, as a pay-by-plate provider's integration would.
"""

from __future__ import annotations

from datetime import timedelta

from alpr_app.demo.truth import TruthPass

# vehicle index % 6 -> what that vehicle's driver does
PLAN = ("paid", "paid", "underpaid", "permit", "unpaid", "paid")
FIRST_HOUR_CENTS = 300  # infra/tariff.demo-day.yaml: a stay of minutes costs its first hour


def demo_payments(truth: list[TruthPass]) -> tuple[list[dict], dict[str, str]]:
    """Payments for the vehicles that enter, and the plan per plate (for the summary)."""
    entries = sorted((t for t in truth if t.direction == "entry"), key=lambda t: t.captured_at)
    payments, plan = [], {}
    for i, t in enumerate(entries):
        what = PLAN[i % len(PLAN)]
        plan[t.plate] = what
        if what == "unpaid":
            continue
        at = t.captured_at + timedelta(seconds=5)
        body = {
            "payment_id": f"demo-{t.plate}-{i}",
            "kind": "permit" if what == "permit" else "pay_by_plate",
            "facility_id": t.facility_id,
            "plate": t.plate,
            "amount_cents": 0 if what == "permit" else (FIRST_HOUR_CENTS if what == "paid" else FIRST_HOUR_CENTS // 2),
            "currency": "USD",
            "paid_at": at.isoformat().replace("+00:00", "Z"),
            "valid_from": (t.captured_at - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
            "valid_until": (t.captured_at + timedelta(hours=(24 * 30 if what == "permit" else 1)))
            .isoformat()
            .replace("+00:00", "Z"),
            "permit_type": "monthly" if what == "permit" else None,
            "source": "demo-paybyplate" if what != "permit" else "demo-permit-office",
        }
        payments.append(body)
    return payments, plan


def patrol_sweep(truth: list[TruthPass]) -> list[tuple[str, bytes, str]]:
    """The enforcement officer's closing patrol: one frame per vehicle still parked, a minute
    after the last lane event. Returns (plate, JPEG, captured_at) for the patrol camera's
    uploads; the patrol reads confirm who is inside and move the revenue stream's clock past
    the last exits, so their sessions are decided at once (without them, or with nobody left
    inside, revenue's idle clock decides them a payment window plus its lag after the last pass)."""
    import cv2
    import numpy as np

    from alpr.synth.plate import random_style, render_plate

    inside: dict[str, TruthPass] = {}
    for t in sorted(truth, key=lambda t: t.captured_at):
        if t.direction == "entry":
            inside[t.plate] = t
        elif t.direction == "exit":
            inside.pop(t.plate, None)
    end = max((t.captured_at for t in truth), default=None)
    if end is None:
        return []
    rng = np.random.default_rng(99)
    frames = []
    for i, (plate, _t) in enumerate(sorted(inside.items())):
        canvas = np.full((720, 1280, 3), 90, np.uint8)
        canvas[300:720] = (60, 62, 64)  # the garage floor
        flat = render_plate(plate, random_style(rng), rng)
        flat = cv2.resize(flat, (300, int(300 * flat.shape[0] / flat.shape[1])))
        y, x = 380, 490
        canvas[y : y + flat.shape[0], x : x + flat.shape[1]] = flat[..., :3]
        ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
        for k in range(2):  # the patrol camera sees each car in a couple of frames
            at = end + timedelta(minutes=2, seconds=i, milliseconds=250 * k)
            frames.append((plate, buf.tobytes(), at.isoformat().replace("+00:00", "Z")))
    return frames
