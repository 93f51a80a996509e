"""The ClickHouse store: one interface, two backends with the same SQL.

`open_store(settings, service)` gives a `ClickHouseServerStore` when a ClickHouse URL is
configured and an embedded `ChdbStore` (one data directory per service) otherwise.
"""

from alpr.store.base import Store, open_api_store, open_service_store, open_store

__all__ = ["Store", "open_api_store", "open_service_store", "open_store"]
