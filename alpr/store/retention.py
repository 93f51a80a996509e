"""The retention report (policy section 10): proof, per table, that the 365-day purge happens.

For every table of ALPR data: the oldest row, rows older than 365 days, how many of those are
held, and `overdue` = unheld rows past 365 days. Right after a TTL merge `overdue` is 0; rows
can linger until ClickHouse's next TTL merge (merge_with_ttl_timeout, 4 hours by default), so
the report flags a table only when unheld rows are more than `grace_days` past the limit.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from alpr.store import Store
from alpr.store.cluster import LOCAL_SUFFIX

RETENTION_DAYS = 365
TTL_PATTERN = re.compile(r"TTL toDateTime\((\w+)\) \+ (?:INTERVAL 365 DAY|toIntervalDay\(365\)) WHERE held = 0")


@dataclass(frozen=True)
class TableRetention:
    database: str
    table: str
    time_column: str
    rows: int
    oldest: str | None
    past_365_days: int
    held: int
    overdue: int
    ok: bool


def alpr_tables(store: Store) -> dict[str, str]:
    """Tables of `store` whose TTL purges unheld rows after 365 days: name -> time column."""
    rows = store.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = {db:String}", {"db": store.database}
    )
    found = {r["name"]: m.group(1) for r in rows if (m := TTL_PATTERN.search(r["create_table_query"]))}
    if getattr(store, "cluster", None):
        # On a cluster the TTL is on each node's `<t>_local`; its Distributed `<t>` counts every shard.
        found = {name.removesuffix(LOCAL_SUFFIX): col for name, col in found.items()}
    return found


def retention_report(store: Store, grace_days: int = 1) -> list[TableRetention]:
    report = []
    for table, col in sorted(alpr_tables(store).items()):
        r = store.query(
            f"SELECT count() AS n_rows, toString(min({col})) AS oldest, "
            f"countIf({col} < now64(3) - INTERVAL {RETENTION_DAYS} DAY) AS n_past, "
            f"countIf(held = 1) AS n_held, "
            f"countIf({col} < now64(3) - INTERVAL {RETENTION_DAYS} DAY AND held = 0) AS n_overdue, "
            f"countIf({col} < now64(3) - INTERVAL {RETENTION_DAYS + grace_days} DAY AND held = 0) AS n_late "
            f"FROM {store.database}.{table}"
        )[0]
        rows = int(r["n_rows"])
        report.append(
            TableRetention(
                store.database,
                table,
                col,
                rows,
                r["oldest"] if rows else None,
                int(r["n_past"]),
                int(r["n_held"]),
                int(r["n_overdue"]),
                int(r["n_late"]) == 0,
            )
        )
    return report


def as_dicts(report: list[TableRetention]) -> list[dict]:
    return [asdict(t) for t in report]
