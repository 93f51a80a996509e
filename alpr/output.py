"""What a command prints on stdout: with `--json`, exactly one JSON object and nothing else.

Libraries print on first use (ultralytics' settings banner, progress lines, C-level warnings)
and some bind their log handler to the stdout of the moment they are imported. A command run
with `--json` therefore runs inside `json_only_stdout()`: stdout, at the Python level and at the
file-descriptor level (children and C code included), points at stderr while the command
works, and the objects it `emit`s are written to the real stdout when it is done.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator

_pending: list[str] | None = None  # set while a --json command runs


def emit(obj: object) -> None:
    """Print one JSON object: the command's result (held back until its banners are out of the way)."""
    line = json.dumps(obj)
    if _pending is not None:
        _pending.append(line)
    else:
        print(line, flush=True)


@contextlib.contextmanager
def json_only_stdout(enabled: bool = True) -> Iterator[None]:
    global _pending
    if not enabled or _pending is not None:
        yield
        return
    real_stdout = sys.stdout
    saved_fd = None
    with contextlib.suppress(AttributeError, OSError, ValueError):
        if real_stdout.fileno() == 1:  # a real process (not a test's in-memory capture)
            real_stdout.flush()
            saved_fd = os.dup(1)
            os.dup2(2, 1)
    _pending = []
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        lines, _pending = _pending, None
        sys.stdout.flush()
        sys.stdout = real_stdout
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
        for line in lines:
            print(line, file=real_stdout)
        real_stdout.flush()
