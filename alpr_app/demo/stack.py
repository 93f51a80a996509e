"""Service processes for the demo, the benches and the tests: start, wait for /healthz, stop cleanly.

Each service runs as `alpr <service> serve` in its own process (chDB: one process per data
directory). `Stack` is a context manager: leaving it, normally or by Ctrl-C, sends SIGTERM
to every process it started and waits for each to exit, so nothing is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from alpr.errors import AlprError


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the demo process dies, so that a
    demo killed with SIGKILL (a timeout, an OOM kill) leaves no service behind holding the
    demo's ports and chDB directories. A no-op where prctl is unavailable."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class ServiceProcess:
    """One `alpr <service> serve` process: the one way the demo, the benches and the tests run
    a service as a process of its own (log to a file, wait for /healthz, SIGTERM or SIGKILL)."""

    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    @classmethod
    def spawn(
        cls, name: str, args: list[str], env: dict[str, str], port: int, log: Path, cwd: Path | None = None
    ) -> ServiceProcess:
        """Start `python -m alpr_app.cli *args` with exactly `env` (the caller decides what it
        inherits), its output appended to `log`; returns without waiting (see `wait_healthy`)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "alpr_app.cli", *args],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        return cls(name, port, proc, log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def wait_healthy(self, timeout: float = 120) -> None:
        """Until /healthz answers 200; an exit or the timeout raises AlprError with the log's end."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AlprError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail(1500).strip()}")
                try:
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)  # polling a health check of another process
        raise AlprError(f"{self.name} did not become healthy within {timeout:.0f}s (log: {self.log})")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, the clean stop; returns the exit code (SIGKILL and AlprError after `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AlprError(
                f"{self.name} did not stop within {timeout:.0f}s of SIGTERM: {self.log_tail(1500)}"
            ) from None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all (fault injection, or a stop that hung)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@dataclass
class Stack:
    env: dict[str, str]
    log_dir: Path
    started: list[ServiceProcess] = field(default_factory=list)

    def start(
        self, name: str, port: int, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 120
    ) -> ServiceProcess:
        env = {**os.environ, **self.env, f"ALPR_{args[0].upper()}_HTTP_PORT": str(port), **(extra_env or {})}
        service = ServiceProcess.spawn(name, list(args), env, port, self.log_dir / f"{name}.log")
        self.started.append(service)
        service.wait_healthy(timeout)
        return service

    def stop(self, timeout: float = 30) -> None:
        for s in reversed(self.started):
            if s.proc.poll() is None:
                s.proc.send_signal(signal.SIGTERM)
        for s in reversed(self.started):
            try:
                s.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                s.kill()
        self.started.clear()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
