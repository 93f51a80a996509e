"""Injected misreads: a test and demo fault that makes a camera misread some vehicles' plates.

The review sample's accuracy estimate (services/revenue/accuracy.py) is only shown to work if it
finds misreads that are there; the demo footage is read perfectly, so `alpr demo
--inject-misreads R` has the recognizer misread a share R of the (camera, plate) pairs it sees:
every read of that plate on that camera gets one character changed (the same one each time, so
the pass folded from them is misread as a whole, as a real systematic misread is). Chosen by a
hash of camera and plate, so that the ground truth of the run knows which. Refused in
production by the recognizer's settings.
"""

from __future__ import annotations

import hashlib

# A change a reader really makes: one look-alike character for another (others become an 8).
LOOKALIKE = {"0": "D", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B", "B": "8", "D": "0", "G": "6", "I": "1",
             "O": "0", "S": "5", "Z": "2"}  # fmt: skip


def _h(camera_id: str, plate: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{camera_id}|{plate}".encode()).digest()[:4], "big")


def misread(camera_id: str, plate: str, rate: float) -> str:
    """`plate` as the faulty camera reads it: unchanged unless (camera, plate) is chosen."""
    if rate <= 0 or _h(camera_id, plate) >= rate * 2**32:
        return plate
    i = _h(plate, camera_id) % len(plate)
    return plate[:i] + LOOKALIKE.get(plate[i], "8") + plate[i + 1 :]
