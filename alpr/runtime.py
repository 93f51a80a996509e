"""Running a service: background workers (consumers) next to the HTTP API, one stop for all.

chDB allows one process per data directory, so a service's consumer and its API share a
process and a store. `run_service` starts the workers in threads, serves the API with
uvicorn, and on SIGTERM/SIGINT (uvicorn's handlers) sets the stop event and waits for the
workers to finish their batch and commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI

log = logging.getLogger(__name__)

Worker = Callable[[threading.Event], None]


@dataclass
class Workers:
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    finished: set[str] = field(default_factory=set)

    def start(self, name: str, worker: Worker, may_finish: bool = False) -> None:
        """Run `worker(stop)` in a thread. A worker that returns before stop is set counts as
        dead (a consumer must not end) unless `may_finish` (a file replay that reached its end)."""

        def guarded() -> None:
            try:
                worker(self.stop)
                if may_finish or self.stop.is_set():
                    self.finished.add(name)
                else:
                    self.failures.append(f"{name}: returned while the service was running")
            except Exception as err:  # a dead worker must turn /healthz red, not vanish
                log.exception("worker failed", extra={"worker": name})
                self.failures.append(f"{name}: {type(err).__name__}: {err}")

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def alive(self) -> bool:
        return not self.failures and all(t.is_alive() or t.name in self.finished for t in self.threads)

    def shutdown(self, timeout: float = 30.0) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout)


def run_service(app: FastAPI, workers: Workers, host: str, port: int, log_level: str = "INFO") -> None:
    import uvicorn

    from alpr.settings import ensure_port_free

    ensure_port_free(host, port)
    # uvicorn re-raises SIGTERM/SIGINT after its own shutdown, so code after server.run()
    # may never execute: stop the workers (finish the batch, commit) from the app's shutdown.
    app.router.on_shutdown.append(workers.shutdown)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level.lower(), access_log=False))
    try:
        server.run()
    finally:
        workers.shutdown()
