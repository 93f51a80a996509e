"""A ClickHouse server through clickhouse-connect (production, and when ALPR_CLICKHOUSE_URL is set)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from alpr.errors import StoreError
from alpr.store.rows import to_json_each_row

# clickhouse-connect logs a generic line before raising; our error says more, once.
logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)


class ClickHouseServerStore:
    def __init__(
        self,
        url: str,
        database: str,
        cluster: str | None = None,
        login: tuple[str, str] | None = None,
        create_database: bool = True,
        ca_file: Path | None = None,
    ) -> None:
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import Error as ChError

        self.database = database
        self.cluster = cluster
        # Into a Distributed table an insert returns only once every shard has its rows: the
        # consumers commit offsets after the insert, so "written" must mean stored, not queued.
        self._insert_settings = {"insert_distributed_sync": 1} if cluster else None
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            from alpr.redact import without_credentials

            raise StoreError(f"ClickHouse URL {without_credentials(url)!r} must look like https://host:8443")
        tls: dict[str, Any] = {}
        if ca_file is not None:
            if parsed.scheme != "https":
                # A CA with plain HTTP would be silently unused: a client that believes it checks the server.
                raise StoreError("ALPR_CLICKHOUSE_CA_FILE is set but ALPR_CLICKHOUSE_URL is not https://")
            if not Path(ca_file).is_file():
                raise StoreError(f"ALPR_CLICKHOUSE_CA_FILE {ca_file} is not a readable file")
            tls = {"verify": True, "ca_cert": str(ca_file)}
        try:
            self._client = clickhouse_connect.get_client(
                host=parsed.hostname,
                port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
                username=login[0] if login else (parsed.username or "default"),
                password=login[1] if login else (parsed.password or ""),
                secure=parsed.scheme == "https",
                connect_timeout=5,
                **tls,
            )
            if create_database:
                self._client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
            else:
                self._client.command("SELECT 1")  # the login works; the migrator made the database
        except ChError as err:
            text = str(err)
            errno = re.search(r"\[Errno -?\d+\] ([^\"')(]+)", text)
            first = errno.group(1).strip() if errno else (text.strip().splitlines() or [type(err).__name__])[0][:200]
            raise StoreError(
                f"cannot reach ClickHouse at {parsed.scheme}://{parsed.hostname}:{parsed.port}: {first}"
            ) from None
        self._error = ChError

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        try:
            self._client.command(sql, parameters=params or None)
        except self._error as err:
            raise StoreError(f"ClickHouse command failed: {err}") from err

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            # Raw JSONEachRow keeps value encoding identical to chDB's (DateTime64 as strings).
            raw = self._client.raw_query(sql, parameters=params or None, fmt="JSONEachRow")
        except self._error as err:
            raise StoreError(f"ClickHouse query failed: {err}") from err
        return [json.loads(line) for line in raw.decode().splitlines() if line]

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        if not rows:
            return 0
        try:
            self._client.raw_insert(
                f"{self.database}.{table}",
                insert_block=to_json_each_row(rows).encode(),
                fmt="JSONEachRow",
                settings=self._insert_settings,
            )
        except self._error as err:
            raise StoreError(f"ClickHouse insert failed: {err}") from err
        return len(rows)

    def close(self) -> None:
        self._client.close()
