"""Where the pretrained model files live, and one-line errors when one is missing or corrupt.

The pretrained plate models (the MIT `fast-alpr` family: open-image-models' YOLOv9 plate
detector and fast-plate-ocr's CCT readers) are not in the repository. They are loaded by
path from one folder, the models dir:

1. `ALPR_MODELS_DIR` (or an explicit argument / `--models-dir` flag);
2. else `<ALPR_DATA_DIR>/models`, when `alpr models fetch` has put files there;
3. else `../shared/models` beside the repository (the read-only copy on the development
   machines and in CI).

Nothing here downloads: `alpr models fetch` does, through the packages' own functions.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from alpr.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_MODELS_DIR = REPO_ROOT.parent / "shared" / "models"
HOW_TO_GET = (
    "set ALPR_MODELS_DIR to a folder that holds it (on the development machines and in CI: "
    "../shared/models) or run `alpr models fetch` on a machine with internet"
)


def resolve_models_dir(explicit: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None) -> Path:
    """The models dir by the rules in the module docstring (the folder need not exist)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ALPR_MODELS_DIR")
    if env:
        return Path(env)
    if data_dir is None:
        from alpr.settings import REPO_ROOT as ALPR_ROOT

        data_dir = os.environ.get("ALPR_DATA_DIR") or ALPR_ROOT / "var"
    fetched = Path(data_dir) / "models"
    if fetched.is_dir() and any(fetched.glob("*.onnx")):
        return fetched
    return SHARED_MODELS_DIR


def find_model(models_dir: Path, *names: str) -> Path:
    """The first of `names` present in `models_dir`, or a one-line ConfigError saying how to get it."""
    for name in names:
        path = Path(models_dir) / name
        if path.is_file():
            return path
    raise ConfigError(f"model file {Path(models_dir) / names[0]} not found: {HOW_TO_GET}")


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_sums(path: Path, digest: str) -> None:
    """When the file's folder has a SHA256SUMS naming it, the file must match it."""
    sums = path.parent / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == path.name and parts[0].lower() != digest:
            raise ConfigError(f"model file {path} is corrupt (its SHA-256 differs from {sums}): {HOW_TO_GET}")


def versioned_file(name: str, path: Path) -> str:
    """'<name>@<first 12 hex of the file's SHA-256>', checked against SHA256SUMS when there is one."""
    digest = sha256(path)
    check_sums(path, digest)
    return f"{name}@{digest[:12]}"


def corrupt(path: Path, err: BaseException) -> ConfigError:
    first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
    return ConfigError(f"model file {path} is corrupt or not a model ({type(err).__name__}: {first}): {HOW_TO_GET}")


def onnx_export(weights: str | os.PathLike, exporter: str, tag: str = "") -> Path:
    """The ONNX export of a project weights file: `<stem>.onnx` beside it (an image built ahead
    of time), else `<data dir>/lib/models/<stem>[-tag]-<hash>.onnx`, written on first use by
    `python -m <exporter> WEIGHTS OUT` in a child process, so that the process serving the
    model never imports torch (yolo_onnx.py, crnn_onnx.py)."""
    import subprocess
    import sys

    from alpr.libstate import data_dir

    weights = Path(weights)
    beside = weights.with_suffix(".onnx")
    if beside.is_file():
        return beside
    cached = data_dir() / "lib" / "models" / f"{weights.stem}{'-' + tag if tag else ''}-{sha256(weights)[:12]}.onnx"
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", exporter, str(weights), str(cached)], capture_output=True, text=True)
    if proc.returncode != 0 or not cached.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ConfigError(f"exporting {weights} to ONNX failed: {tail[0]}")
    return cached
