"""A new user on a new machine: an empty HOME, no library state anywhere.

On first use ultralytics writes a settings file and prints a banner about it on stdout; a
warm machine hides that. These run the real commands as subprocesses with an empty HOME and a
fresh data directory, so every first-use path runs, and check that `--json` prints exactly one
JSON object and that nothing was written to the home directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alpr.synth import write_openalpr_testset

REPO = Path(__file__).resolve().parents[1]


def _fresh_env(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    home = tmp_path / "home"
    data = tmp_path / "data"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "YOLO_CONFIG_DIR",
            "MPLCONFIGDIR",
            "TORCH_HOME",
            "TRITON_CACHE_DIR",
            "XDG_CONFIG_HOME",
            "XDG_CACHE_HOME",
            "ALPR_DATA_DIR",
        }
    }
    env.update(HOME=str(home), ALPR_DATA_DIR=str(data))
    return env, home, data


def _one_json_line(out: subprocess.CompletedProcess) -> dict:
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert len(lines) == 1, f"stdout must be one JSON object, got {len(lines)} lines: {lines[:5]}"
    return json.loads(lines[0])


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_eval_json_on_a_fresh_machine_is_one_object_and_leaves_home_empty(tmp_path):
    env, home, data = _fresh_env(tmp_path)
    write_openalpr_testset(str(tmp_path / "set"), 2, seed=5160)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "alpr_app.cli",
            "eval",
            "--dataset",
            str(tmp_path / "set"),
            "--format",
            "openalpr",
            "--json",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    result = _one_json_line(out)
    assert result["images"] == 2
    assert _files_under(home) == []
    # ultralytics did run its first-use path, under the data directory
    assert (data / "lib" / "Ultralytics" / "settings.json").is_file()


@pytest.mark.clickhouse
def test_bench_json_on_a_fresh_machine_is_one_object_and_leaves_home_empty(tmp_path):
    env, home, _ = _fresh_env(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "alpr_app.cli", "bench", "store", "--rows", "2000", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    result = _one_json_line(out)
    assert result["rows"] == 2000
    assert _files_under(home) == []


def test_json_only_stdout_sends_every_other_write_to_stderr(tmp_path):
    # Python prints, C-level writes to fd 1 and child processes all land on stderr; the emitted
    # object alone on stdout, after them.
    code = (
        "import os, subprocess, sys\n"
        "from alpr.output import emit, json_only_stdout\n"
        "with json_only_stdout():\n"
        "    print('a python banner')\n"
        "    os.write(1, b'a C-level line\\n')\n"
        "    subprocess.run(['echo', 'a child process'], check=True)\n"
        "    emit({'ok': True})\n"
        "    print('after the result')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == '{"ok": true}\n'
    for line in ("a python banner", "a C-level line", "a child process", "after the result"):
        assert line in out.stderr


def test_library_state_points_under_the_data_dir(tmp_path):
    env, _, data = _fresh_env(tmp_path)
    code = "import alpr, json, os; print(json.dumps({k: os.environ[k] for k in ('YOLO_CONFIG_DIR', 'MPLCONFIGDIR', 'TORCH_HOME')}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    dirs = json.loads(out.stdout)
    assert all(Path(v).is_relative_to(data / "lib") for v in dirs.values()), dirs
    # an operator's explicit choice is kept
    env["YOLO_CONFIG_DIR"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout)["YOLO_CONFIG_DIR"] == str(tmp_path / "mine")
