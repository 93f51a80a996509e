"""Where Chromium is missing the console's browser test skips for a developer and fails under
CI=true (a skip in CI would hide that the console was never checked). Run as a real pytest in a
subprocess whose PATH has no chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("ci, outcome", [("true", "1 error"), ("", "1 skipped")])
def test_missing_chromium_skips_for_developers_and_fails_in_ci(ci, outcome, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(tmp_path)  # nothing on it: shutil.which finds no chromium
    if ci:
        env["CI"] = ci
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_console.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome in out.stdout, out.stdout[-2000:]
    if ci:
        assert out.returncode == 1
        assert "CI=true and chromium is not installed" in out.stdout
