"""Running a service: its consumers, its HTTP API and (for the stream services) its faust app,
hosted one way for every service.

chDB allows one process per data directory, so a service's consumers and its API share a
process and a store. `serve` runs them all under one `mode` worker (the library faust itself
runs on), which owns the event loop and the signals:

* `ApiServer` runs uvicorn's server on that loop, without uvicorn's own signal handlers (the
  worker stops it first, so no request is answered from a store that is closing);
* `WorkerThreads` runs the blocking workers (confluent-kafka consumers, camera feeds, sweeps)
  in threads of their own, as `Workers`; a dead worker turns /healthz red;
* a faust app, where the service has one, is the worker's first service: faust.Worker is
  mode's Worker with the app's own start and stop.

SIGTERM or SIGINT stops the services in the reverse order of their start (the API, then the
worker threads, which finish their batch and commit, then the faust agents), then `serve`
runs the service's `on_stop` hooks (flush the producer, close the store) and returns 0. Nothing
calls sys.exit from inside an agent or a worker: that hung faust's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from mode import Service
from mode import Worker as ModeWorker

from alpr.errors import ConfigError

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


class ApiServer(Service):
    """A FastAPI app served by uvicorn on the worker's loop."""

    def __init__(
        self,
        app: FastAPI,
        host: str,
        port: int,
        log_level: str,
        before_stop: list[Callable[[], None]],
        trusted_proxies: str = "",
        after_stop: Sequence[Callable[[], Awaitable[None]]] = (),
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.api, self.host, self.port, self.level = app, host, port, log_level
        self.before_stop = before_stop
        self.after_stop = list(after_stop)
        self.trusted_proxies = trusted_proxies
        self.server: Any = None
        self.serving: asyncio.Future | None = None

    async def on_start(self) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):  # the mode worker owns the signals
                yield

        config = uvicorn.Config(
            self.api,
            host=self.host,
            port=self.port,
            log_level=self.level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
            log_config=None,
            # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise, so any local
            # process could name another client in the audit trail: only the configured proxies
            # (ALPR_TRUSTED_PROXIES) are believed, none by default.
            proxy_headers=bool(self.trusted_proxies),
            forwarded_allow_ips=self.trusted_proxies or None,
        )
        self.server = Server(config)
        self.serving = asyncio.ensure_future(self.server.serve())
        while not self.server.started:
            if self.serving.done():
                self.serving.result()  # raises the bind error
                raise ConfigError(f"the API did not start on {self.host}:{self.port}")
            await asyncio.sleep(0.02)  # uvicorn offers no event for "listening"
        port = self.server.servers[0].sockets[0].getsockname()[1]
        log.info("API listening", extra={"host": self.host, "port": port})

    async def on_stop(self) -> None:
        for hook in self.before_stop:
            hook()  # e.g. end live streams, so that the graceful shutdown is short
        if self.server is not None and self.serving is not None:
            self.server.should_exit = True
            with contextlib.suppress(Exception):
                await self.serving
        for close in self.after_stop:
            # Async resources of the app (an HTTP client's pooled connections) are closed on the
            # loop they were opened on, once no request can use them any more.
            try:
                await close()
            except Exception:
                log.exception("closing the API's resources failed")


class WorkerThreads(Service):
    """The service's `Workers`, stopped with the worker (batch finished, offsets committed)."""

    def __init__(self, workers: Workers, timeout: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.workers, self.timeout = workers, timeout

    async def on_stop(self) -> None:
        await asyncio.to_thread(self.workers.shutdown, self.timeout)


def faust_log_level(level: str) -> str:
    """faust's INFO is a line per partition assignment; the service's INFO keeps it at warn."""
    return {"DEBUG": "debug", "INFO": "warn", "WARNING": "warn", "ERROR": "error"}.get(level.upper(), "warn")


def serve(
    api: FastAPI,
    workers: Workers,
    host: str,
    port: int,
    log_level: str = "INFO",
    stream: Any = None,
    before_api_stop: Iterable[Callable[[], None]] = (),
    on_stop: Iterable[Callable[[], None]] = (),
    stop_timeout_s: float = 30.0,
    trusted_proxies: str = "",
    after_api_stop: Iterable[Callable[[], Awaitable[None]]] = (),
) -> int:
    """Run the service until SIGTERM/SIGINT; returns the process's exit code.

    `stream` is the service's faust app, if it has one. `before_api_stop` runs on the loop
    before the API stops; `on_stop` after everything stopped (flush a producer, close a store),
    also when the start failed. `trusted_proxies`: the addresses whose X-Forwarded-For names
    the client (`ServiceSettings.trusted_proxies`); `after_api_stop`: coroutines run on the loop
    once the API has stopped (closing the app's async clients)."""
    from alpr.settings import ensure_port_free

    ensure_port_free(host, port)
    services = [
        WorkerThreads(workers, stop_timeout_s),
        ApiServer(api, host, port, log_level.lower(), list(before_api_stop), trusted_proxies, list(after_api_stop)),
    ]
    level = faust_log_level(log_level)
    worker: ModeWorker
    try:
        if stream is not None:
            import faust

            worker = faust.Worker(stream, *services, loglevel=level, override_logging=False, quiet=True)
        else:
            worker = ModeWorker(*services, loglevel=level, override_logging=False, quiet=True, redirect_stdouts=False)
        try:
            worker.execute_from_commandline()
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else 0
        return 0
    finally:
        workers.shutdown(stop_timeout_s)  # a no-op after a clean stop; stops the threads after a failed start
        for hook in on_stop:
            hook()
