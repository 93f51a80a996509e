"""Which weights produced a read: a model's name plus a short hash of its weights file.

Reads carry these in `models` (alpr.reads.v1), so an auditor or an engineer comparing
replicas can tell which trained weights read a plate, not only which architecture.
"""

from __future__ import annotations

import hashlib


def versioned(name: str, weights_path: str) -> str:
    """'<name>@<first 12 hex of the file's SHA-256>'."""
    h = hashlib.sha256()
    with open(weights_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"{name}@{h.hexdigest()[:12]}"
