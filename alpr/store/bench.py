"""`alpr bench store`: batch insert rows/s into the passes table, through the Store interface.

The rows are what the occupancy writer inserts (JSONEachRow via the same `insert` call),
in batches of 50,000, into a fresh database of the configured store (chDB by default).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alpr.measure import machine


def run_bench(rows: int = 500_000, batch: int = 50_000, clickhouse_url: str | None = None) -> dict:
    from alpr.store import open_store
    from alpr.store.migrate import migrate

    with tempfile.TemporaryDirectory() as tmp:
        database = f"bench_{uuid.uuid4().hex[:8]}"
        store = open_store("occupancy", clickhouse_url=clickhouse_url, data_dir=Path(tmp), database=database)
        try:
            migrate(store, "occupancy")
            t0 = datetime.now(UTC)
            data = [
                {
                    "pass_id": f"garage-{i % 7}/L{i % 4}/{i}",
                    "facility_id": f"garage-{i % 7}",
                    "camera_id": f"cam-{i % 28}",
                    "lane": f"L{i % 4}",
                    "direction": "entry" if i % 2 else "exit",
                    "plate": f"{i % 10}ABC{i % 1000:03d}",
                    "plate_key": f"{i % 10}A8C{i % 1000:03d}",
                    "confidence": 0.97,
                    "first_seen": t0 - timedelta(seconds=i),
                    "last_seen": t0 - timedelta(seconds=i - 2),
                    "read_count": 4,
                    "best_read_id": f"cam:{i}#0",
                    "version": i,
                }
                for i in range(rows)
            ]
            started = time.perf_counter()
            for i in range(0, rows, batch):
                store.insert("passes", data[i : i + batch])
            elapsed = time.perf_counter() - started
            count = store.query(f"SELECT count() AS n FROM {database}.passes")[0]["n"]
        finally:
            store.close()
    return {
        "benchmark": "store-insert",
        "machine": machine(),
        "backend": "clickhouse-server" if clickhouse_url else "chdb",
        "rows": rows,
        "rows_stored": int(count),
        "batch_rows": batch,
        "rows_per_s": round(rows / elapsed),
        "seconds": round(elapsed, 2),
    }
