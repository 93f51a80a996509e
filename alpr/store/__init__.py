"""The ClickHouse store: one interface, two backends with the same SQL.

`open_store(settings, service)` gives a `ClickHouseServerStore` when a ClickHouse URL is
configured and an embedded `ChdbStore` (one data directory per service) otherwise.
"""

from alpr.store.base import Store, open_store

__all__ = ["Store", "open_store"]
