"""Library state under the project's data directory, never under the user's home.

Ultralytics writes a settings file (and prints a banner about it) the first time it is
imported, matplotlib builds a font cache, torch and triton keep caches: by default all of them
under `~`. The policy of this project is that nothing is written to the user's home, and a
fresh machine must behave like a warm one, so every process that imports `alpr` points those
libraries at `<data dir>/lib/...` before any of them is imported. A variable the operator set
explicitly is kept (they chose where).

This module reads `ALPR_DATA_DIR` straight from the environment (not through the validated
settings): it runs at import time, before any settings are loaded, and must stay cheap.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# variable -> folder under <data dir>/lib
LIBRARY_DIRS = {
    "YOLO_CONFIG_DIR": ".",  # it adds Ultralytics/: settings.json (and the "Creating new ... Settings" banner)
    "MPLCONFIGDIR": "matplotlib",  # font cache (ultralytics imports matplotlib)
    "TORCH_HOME": "torch",  # hub and checkpoint caches
    "TRITON_CACHE_DIR": "triton",  # compiled kernels on a GPU
    "XDG_CONFIG_HOME": "config",  # anything else that follows the XDG rules (Chromium's profile defaults too)
    "XDG_CACHE_HOME": "cache",
}


def data_dir() -> Path:
    return Path(os.environ.get("ALPR_DATA_DIR") or REPO_ROOT / "var").resolve()


def keep_library_state_local() -> dict[str, str]:
    """Set each library's state folder under the data directory unless already set; returns
    the variables as they now stand. The libraries create the folders on first use (a
    read-only data dir makes ultralytics fall back to a temporary folder, still not the home)."""
    lib = data_dir() / "lib"
    for var, sub in LIBRARY_DIRS.items():
        os.environ.setdefault(var, str((lib / sub).resolve()))
    # Never reach for the hub or download fonts at run time (no model hub is reachable here).
    os.environ.setdefault("YOLO_OFFLINE", "1")
    return {var: os.environ[var] for var in LIBRARY_DIRS}
