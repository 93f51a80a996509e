"""A scripted day at garage-1 (Tuesday 2026-11-24, America/Los_Angeles, demo tariff:
300/h, max 1500/day, 15 min grace), with the outcomes finance and enforcement must see."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alpr.contracts.models import ModelVersions, Pass, utc_iso
from alpr.plates import confusable_key

LA = ZoneInfo("America/Los_Angeles")
DAY = "2026-11-24"
FACILITY = "garage-1"
CROP = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="


def at(hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 11, 24, h, m, tzinfo=LA)


def ms(hhmm: str) -> int:
    return int(at(hhmm).timestamp() * 1000)


def a_pass(
    direction: str, plate: str | None, hhmm: str | datetime, version: int = 1, confidence: float = 0.999
) -> Pass:
    """A pass at `hhmm` on the scenario's day (or at a given time)."""
    lane = {"entry": "L1", "exit": "L2", "patrol": "P1"}[direction]
    camera = {"entry": "cam-g1-entry-1", "exit": "cam-g1-exit-1", "patrol": "cam-g1-patrol-1"}[direction]
    first = at(hhmm) if isinstance(hhmm, str) else hhmm
    pid = f"{FACILITY}/{lane}/{int(first.timestamp() * 1000)}"
    return Pass(
        pass_id=pid,
        facility_id=FACILITY,
        camera_id=camera,
        lane=lane,
        direction=direction,
        plate=plate,
        plate_key=confusable_key(plate) if plate else None,
        confidence=confidence,
        first_seen=first,
        last_seen=first + timedelta(seconds=2),
        read_count=3,
        best_read_id=f"{camera}:{int(first.timestamp() * 1000)}#0",
        read_ids=[f"{camera}:{int(first.timestamp() * 1000)}#0"],
        version=version,
        best_crop_jpeg_b64=CROP,
        context_jpeg_b64=CROP,  # the test's stand-in for the downscaled frame
        models=ModelVersions(detector="yolo-plate-n@1", reader="crnn-plate@1"),
    )


def payment(pid: str, plate: str, cents: int, paid: str, until: str, kind: str = "pay_by_plate", **extra) -> dict:
    return {
        "payment_id": pid,
        "kind": kind,
        "facility_id": extra.pop("facility_id", FACILITY),
        "plate": plate,
        "amount_cents": cents,
        "paid_at": utc_iso(at(paid)),
        "valid_from": utc_iso(at(paid)),
        "valid_until": utc_iso(at(until)),
        "source": "test",
        **extra,
    }


PAYMENTS = [
    payment("pay-paid", "8ABC123", 900, "10:05", "12:35"),
    payment("pay-under", "7XYZ001", 600, "10:15", "12:15"),
    payment("pay-misread", "8DEF234", 600, "13:15", "13:30", kind="pay_station"),
    payment("pay-dup", "9DUP999", 600, "14:05", "16:05"),
    payment("pay-dup", "9DUP999", 600, "14:05", "16:05"),  # the same transaction delivered twice
    {
        **payment("permit-ok", "4PRM444", 0, "08:00", "08:00", kind="permit", permit_type="monthly", facility_id="*"),
        "valid_from": "2026-11-01T08:00:00.000Z",
        "valid_until": "2026-12-01T08:00:00.000Z",
    },
    {
        **payment("permit-visitor", "2INV222", 0, "08:00", "08:00", kind="permit", permit_type="visitor"),
        "valid_from": "2026-11-01T08:00:00.000Z",
        "valid_until": "2026-12-01T08:00:00.000Z",
    },
]


def passes() -> list[Pass]:
    """In capture order, with a republished (better) version and a redelivered duplicate."""
    out = [
        a_pass("entry", "4PRM444", "07:30"),
        a_pass("entry", "6ORF666", "09:00"),  # orphan: never leaves (12 h orphan time)
        a_pass("entry", "8ABC123", "10:00", version=1, confidence=0.8),
        a_pass("entry", "8ABC123", "10:00", version=2, confidence=0.97),  # republished, better
        a_pass("entry", "7XYZ001", "10:10"),
        a_pass("entry", None, "10:30"),  # a vehicle whose plate was never read
        a_pass("entry", "5KLM777", "11:00"),
        a_pass("patrol", "7XYZ001", "12:00"),
        a_pass("entry", "8DEF234", "12:00"),
        a_pass("exit", "8ABC123", "12:30"),
        a_pass("exit", "8ABC123", "12:30"),  # redelivered
        a_pass("exit", "5KLM777", "13:00"),
        a_pass("exit", "BDEF234", "13:20", confidence=0.7),  # misread exit: B for 8
        a_pass("entry", "9DUP999", "14:00"),
        a_pass("exit", "7XYZ001", "14:10"),
        a_pass("entry", "3GRC333", "15:00"),
        a_pass("exit", "9DUP999", "15:05"),
        a_pass("exit", "3GRC333", "15:10"),  # within the grace period
        a_pass("entry", "2INV222", "15:30"),
        a_pass("exit", "2INV222", "17:30"),
        a_pass("exit", "4PRM444", "17:45"),
        a_pass("entry", "1LAT111", "23:00"),  # late traffic moves stream time on
    ]
    return out


def sid(plate: str, hhmm: str) -> str:
    return f"{FACILITY}/{plate}/{ms(hhmm)}"


# session -> (status, due, paid)
EXPECTED_MATCHES = {
    sid("8ABC123", "10:00"): ("matched", 900, 900),
    sid("7XYZ001", "10:10"): ("underpaid", 1200, 600),
    sid("5KLM777", "11:00"): ("unpaid", 600, 0),
    sid("4PRM444", "07:30"): ("permit", 0, 0),
    sid("6ORF666", "09:00"): ("unpaid", 1500, 0),
    sid("8DEF234", "12:00"): ("matched", 600, 600),
    sid("9DUP999", "14:00"): ("matched", 600, 600),
    sid("3GRC333", "15:00"): ("matched", 0, 0),
    sid("2INV222", "15:30"): ("unpaid", 600, 0),
}
EXPECTED_VIOLATIONS = {
    (sid("7XYZ001", "10:10"), "overstay", 600),
    (sid("5KLM777", "11:00"), "unpaid", 600),
    (sid("2INV222", "15:30"), "invalid_permit", 600),
}


def encoded(items: list[Pass]) -> list[tuple[str, bytes]]:
    return [(p.facility_id, p.model_dump_json().encode()) for p in items]


def encoded_payments() -> list[tuple[str, bytes]]:
    return [(p["plate"], json.dumps(p).encode()) for p in PAYMENTS]
