"""The occupancy service: one process runs the faust worker, the holds consumer and the API.

chDB serves one data directory per process, and the API answers from the same store and
the same live board as the stream, so everything shares the faust worker's event loop:

* the faust `Worker` owns the loop and the signals (SIGTERM/SIGINT: a clean stop);
* `ApiServer`, a mode service started by that worker, runs uvicorn's server on the loop,
  without uvicorn's own signal handlers (the worker stops it, after the agent);
* `ThreadService` runs each shared confluent-kafka consumer in a thread: the holds consumer
  and the token revocations feed.

Stopping never calls sys.exit inside an agent (that hung faust's shutdown): a signal makes
the worker stop its services in order, faust commits what the agent finished, and the
process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import faust
from mode import Service

from alpr.audit import AuditClient
from alpr.contracts.registry import Topic
from alpr.errors import ConfigError
from alpr.holds import HeldTable, HoldKeeper, holds_consumer
from alpr.kafka.topics import replication_of
from alpr.revocations import RevocationFeed
from alpr.store import Store, open_store
from services.occupancy.board import Board
from services.occupancy.facilities import Facility, load_facilities
from services.occupancy.settings import OccupancySettings
from services.occupancy.stream import SERVICE, OccupancyStream, faust_log_level

log = logging.getLogger(__name__)

HELD_TABLES = [HeldTable("passes", "plate", "first_seen"), HeldTable("occupancy_history", None, "as_of")]


def open_occupancy_store(settings: OccupancySettings) -> Store:
    from alpr.store.migrate import migrate_service

    store = open_store(
        SERVICE, clickhouse_url=settings.clickhouse_url, data_dir=settings.data_dir, cluster=settings.clickhouse_cluster
    )
    migrate_service(SERVICE, store, settings)
    return store


def source_partitions(bootstrap: str, topic: str) -> int:
    """Partitions of the reads topic; it must exist (auto-creation is off: `alpr topics apply`)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from alpr.kafka.config import admin_config

    try:
        metadata = AdminClient(admin_config(bootstrap)).list_topics(topic, timeout=15)
    except KafkaException as err:
        raise ConfigError(f"cannot reach Kafka at {bootstrap}: {err.args[0].str()}") from None
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise ConfigError(f"topic {topic} does not exist; create it with `alpr topics apply`")
    return len(found.partitions)


def check_codecs() -> None:
    """Every ALPR producer compresses with lz4 (alpr.kafka.config); aiokafka reads lz4 only with
    cramjam installed, and without it the worker crashes on the first fetch. Say so at start."""
    from aiokafka.codec import has_lz4

    if not has_lz4():
        raise ConfigError("aiokafka cannot decompress lz4 (the platform's producer compression): install cramjam")


class _Server:
    """uvicorn's Server without its signal handlers: the faust worker owns the signals."""

    def __new__(cls, config):
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):
                yield

        return Server(config)


class ApiServer(Service):
    """The FastAPI app served by uvicorn inside the faust worker's loop."""

    def __init__(self, app, host: str, port: int, board: Board, log_level: str = "info", **kwargs) -> None:
        super().__init__(**kwargs)
        self.api = app
        self.host, self.port = host, port
        self.board = board
        self.log_level = log_level
        self.server = None
        self._serving: asyncio.Task | None = None

    async def on_start(self) -> None:
        import uvicorn

        config = uvicorn.Config(
            self.api,
            host=self.host,
            port=self.port,
            log_level=self.log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
            log_config=None,
        )
        self.server = _Server(config)
        self._serving = asyncio.ensure_future(self.server.serve())
        while not self.server.started:
            if self._serving.done():
                self._serving.result()  # raises the bind error
                raise ConfigError(f"the API did not start on {self.host}:{self.port}")
            await asyncio.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        log.info("occupancy API listening", extra={"host": self.host, "port": port})

    async def on_stop(self) -> None:
        self.board.close()  # ends live streams, so the server's graceful shutdown is short
        if self.server is not None and self._serving is not None:
            self.server.should_exit = True
            with contextlib.suppress(Exception):
                await self._serving


class ThreadService(Service):
    """A blocking worker (`run(stop_event)`: a confluent-kafka consumer) in a thread of its own,
    started and stopped with the faust worker."""

    def __init__(self, run, name: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_worker = run
        self.thread_name = name
        self.stop_event = threading.Event()
        self.failure: str | None = None
        self.thread: threading.Thread | None = None

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive() and self.failure is None

    async def on_start(self) -> None:
        def run() -> None:
            try:
                self.run_worker(self.stop_event)
            except Exception as err:  # a dead consumer turns /healthz red
                log.exception("consumer thread failed", extra={"thread": self.thread_name})
                self.failure = f"{type(err).__name__}: {err}"

        self.thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self.thread.start()

    async def on_stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            await asyncio.to_thread(self.thread.join, 30)


class Components:
    """Everything the service runs, built from settings (tests build the same thing)."""

    def __init__(self, settings: OccupancySettings, audit: AuditClient | None = None) -> None:
        from services.occupancy.api import build_app

        self.settings = settings
        prefix = settings.topic_prefix
        self.facilities: dict[str, Facility] = load_facilities(settings.cameras_file)
        partitions = source_partitions(settings.kafka_bootstrap, Topic.READS.on(prefix))
        replication = replication_of(settings.kafka_bootstrap, Topic.READS.on(prefix))
        self.store = open_occupancy_store(settings)
        self.keeper = HoldKeeper(self.store, HELD_TABLES)
        self.board = Board(self.facilities)
        self.stream = OccupancyStream(
            settings, self.facilities, self.store, self.keeper, self.board, partitions, prefix, replication=replication
        )
        self.holds = ThreadService(
            holds_consumer(
                SERVICE,
                settings.kafka_bootstrap,
                self.keeper,
                topic_prefix=prefix,
                group_id=f"{prefix}alpr-{SERVICE}-holds",
            ).run,
            "occupancy-holds",
        )
        # Token revocations: the API refuses data until this has read the whole topic.
        self.revocations = RevocationFeed(SERVICE, settings.kafka_bootstrap, topic_prefix=prefix)
        self.revocations_thread = ThreadService(self.revocations.run, "occupancy-revocations")
        self.audit = audit or AuditClient(settings.kafka_bootstrap, SERVICE, topic=Topic.AUDIT.on(prefix))
        self.api = build_app(self)
        self.api_server = ApiServer(
            self.api, settings.http_host, settings.http_port, self.board, settings.log_level.lower()
        )

    def close(self) -> None:
        # Refused requests are audited without waiting (alpr.http); send what is queued.
        self.audit.close()
        self.store.close()


def run(settings: OccupancySettings) -> int:
    """Run until SIGTERM/SIGINT; returns the worker's exit code."""
    from alpr.settings import ensure_port_free

    ensure_port_free(settings.http_host, settings.http_port)
    check_codecs()
    parts = Components(settings)
    worker = faust.Worker(
        parts.stream.app,
        parts.holds,
        parts.revocations_thread,
        parts.api_server,
        loglevel=faust_log_level(settings.log_level),
        override_logging=False,
        quiet=True,
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    finally:
        parts.close()
    return 0
