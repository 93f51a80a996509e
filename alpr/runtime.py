"""Running a service: background workers (consumers) next to the HTTP API, one stop for all.

chDB allows one process per data directory, so a service's consumer and its API share a
process and a store. `run_service` starts the workers in threads, serves the API with
uvicorn, and on SIGTERM/SIGINT (uvicorn's handlers) sets the stop event and waits for the
workers to finish their batch and commit.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from fastapi import FastAPI

log = logging.getLogger(__name__)

Worker = Callable[[threading.Event], None]


@dataclass
class Workers:
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def start(self, name: str, worker: Worker) -> None:
        def guarded() -> None:
            try:
                worker(self.stop)
            except Exception as err:  # a dead worker must turn /healthz red, not vanish
                log.exception("worker failed", extra={"worker": name})
                self.failures.append(f"{name}: {type(err).__name__}: {err}")

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def alive(self) -> bool:
        return not self.failures and all(t.is_alive() for t in self.threads)

    def shutdown(self, timeout: float = 30.0) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout)


def run_service(app: FastAPI, workers: Workers, host: str, port: int, log_level: str = "INFO") -> None:
    import uvicorn

    from alpr.settings import ensure_port_free

    ensure_port_free(host, port)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level.lower(), access_log=False))
    try:
        server.run()
    finally:
        workers.shutdown()
