"""Service processes for the demo and end-to-end tests: start, wait for /healthz, stop cleanly.

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
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    env: dict[str, str]
    log_dir: Path
    started: list[ServiceProcess] = field(default_factory=list)

    def start(
        self, name: str, port: int, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 120
    ) -> ServiceProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        env = {**os.environ, **self.env, f"ALPR_{args[0].upper()}_HTTP_PORT": str(port), **(extra_env or {})}
        proc = subprocess.Popen(
            [sys.executable, "-m", "alpr_app.cli", *args],
            env=env,
            stdout=open(log, "ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        service = ServiceProcess(name, port, proc, log)
        self.started.append(service)
        self.wait_healthy(service, timeout)
        return service

    def wait_healthy(self, service: ServiceProcess, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if service.proc.poll() is not None:
                    tail = service.log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                    raise AlprError(f"{service.name} exited with {service.proc.returncode}: {tail[0][:300]}")
                try:
                    if client.get(f"{service.url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)  # polling a health check of another process
        raise AlprError(f"{service.name} did not become healthy within {timeout:.0f}s (log: {service.log})")

    def stop(self, timeout: float = 30) -> None:
        for s in reversed(self.started):
            if s.proc.poll() is None:
                s.proc.send_signal(signal.SIGTERM)
        for s in reversed(self.started):
            try:
                s.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait()
        self.started.clear()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
