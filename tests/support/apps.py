"""The occupancy and revenue APIs over real parts that are not started, for tests that call
their routes in-process (tests/test_routes.py, the release test)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from alpr.audit import AuditClient
from alpr.contracts.registry import Topic
from alpr.revocations import RevocationSet
from alpr.runtime import Workers
from alpr.store import Store
from services.occupancy.board import Board
from services.occupancy.facilities import load_facilities
from services.occupancy.main import open_occupancy_store
from services.occupancy.settings import OccupancySettings
from services.occupancy.stream import OccupancyStream
from services.revenue.custody import CustodyLog
from services.revenue.decisions import ReviewDesk
from services.revenue.main import Services, build_app, open_revenue_store, payment_check
from services.revenue.payments import PaymentPublisher
from services.revenue.settings import RevenueSettings
from services.revenue.stream import RevenueStream
from services.revenue.tariff import load_tariff
from tests.support.kafka import SUITE_BOOTSTRAP


class LazyStore:
    """A store opened by its first query. tests/test_routes.py builds every service's app in one
    process, and chDB serves one data directory per process, so an app must not open its store
    before a request needs it."""

    def __init__(self, database: str, opener: Callable[[], Store], cluster: str | None = None) -> None:
        self.database = database
        self.cluster = cluster
        self._opener = opener
        self._store: Store | None = None

    def _open(self) -> Store:
        if self._store is None:
            self._store = self._opener()
        return self._store

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        return self._open().command(sql, params)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._open().query(sql, params)

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        return self._open().insert(table, rows)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _occupancy_store_on_first_use(settings) -> LazyStore:
    return LazyStore("occupancy", lambda: open_occupancy_store(settings))


def occupancy_api(tmp_path: Path, audit: AuditClient, secret: str, store: Store | None = None):
    """The API over real parts that are not started (no Kafka consumer, no worker): for the
    route checks of tests/test_routes.py, and over a given store for the release test (chDB
    serves one directory per process, so in-process services share the test's). Live streams
    end after their snapshot."""
    from types import SimpleNamespace

    from services.occupancy.api import build_app

    settings = OccupancySettings(
        data_dir=tmp_path,
        auth_secret=secret,
        environment="test",
        kafka_bootstrap=getattr(audit, "bootstrap", SUITE_BOOTSTRAP),
    )
    facilities = load_facilities(settings.cameras_file)
    store = store or _occupancy_store_on_first_use(settings)
    board = Board(facilities)
    board.close()
    stream = OccupancyStream(settings, facilities, store, None, board, reads_partitions=1)
    parts = SimpleNamespace(
        settings=settings,
        store=store,
        api_store=store,
        board=board,
        stream=stream,
        facilities=facilities,
        audit=audit,
        workers=SimpleNamespace(alive=lambda: False),
        revocations=RevocationSet("occupancy", loaded=True),
    )  # no consumer: nothing revoked
    return build_app(parts)


def _revenue_store_on_first_use(settings) -> LazyStore:
    return LazyStore("revenue", lambda: open_revenue_store(settings))


def revenue_api(
    tmp_path, audit: AuditClient, secret: str, store: Store | None = None, stream: RevenueStream | None = None
) -> FastAPI:
    """The API over real parts that are not started (no faust worker): for the route checks of
    tests/test_routes.py, and over a given store for the release test (chDB serves one
    directory per process, so in-process services share the test's)."""
    settings = RevenueSettings(
        data_dir=tmp_path,
        auth_secret=secret,
        environment="test",
        kafka_bootstrap=getattr(audit, "bootstrap", SUITE_BOOTSTRAP),
    )
    publisher = PaymentPublisher(settings.kafka_bootstrap, Topic.PAYMENTS, payment_check(settings))
    store = store or _revenue_store_on_first_use(settings)
    desk = ReviewDesk.connect(store, settings.kafka_bootstrap, Topic.REVIEW_DECISIONS)
    services = Services(
        settings,
        store,
        load_tariff(settings.tariff_file),
        publisher,
        RevocationSet("revenue", loaded=True),
        stream,
        desk,
        CustodyLog(store),
    )  # no consumer: nothing revoked
    return build_app(services, Workers(), audit)
