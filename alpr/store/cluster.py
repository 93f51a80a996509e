"""Migrations on a ClickHouse cluster: Replicated tables `ON CLUSTER`, Distributed tables for reads.

With `ALPR_CLICKHOUSE_CLUSTER` set (a cluster named in the servers' `remote_servers`, with
Keeper and the `{shard}` / `{replica}` macros configured), each migration statement is
rewritten before it runs; the files themselves do not change (their checksums are the record
of what was applied, and the same files serve chDB and a single server):

- `CREATE TABLE db.t (...) ENGINE = XMergeTree(args) ...` becomes
  `db.t_local ON CLUSTER` with `ReplicatedXMergeTree('/clickhouse/tables/{shard}/db/t_local',
  '{replica}', args)` and everything else kept (partitioning, ordering, the 365-day TTL), plus
  `db.t ON CLUSTER AS db.t_local ENGINE = Distributed(cluster, db, t_local, cityHash64(<ORDER BY>))`.
  The services keep reading and inserting `db.t`. Sharding by a hash of the sorting key puts
  every version of a row on one shard, so `FINAL` (ReplacingMergeTree's deduplication), which
  each shard applies to its own part of a Distributed read, still sees all of a row's versions.
- Small tables that every node should hold whole (`EVERY_NODE`: legal holds, the migration
  record) are Replicated across the whole cluster (one replication path, no `{shard}`) and
  get no Distributed table.
- `ALTER TABLE db.t ...` runs `ON CLUSTER` on `t_local` and, for column changes, on the
  Distributed `t` too; a TTL change or a mutation concerns the stored rows: `t_local` only.

Without a cluster every function here returns the statement unchanged.
"""

from __future__ import annotations

import re

# Tables that hold a few rows that every node needs whole: replicated, never sharded.
EVERY_NODE = frozenset({"holds", "schema_migrations"})
LOCAL_SUFFIX = "_local"

_CREATE = re.compile(r"^CREATE TABLE IF NOT EXISTS (?P<db>\w+)\.(?P<table>\w+)\s*\(", re.S)
_ENGINE = re.compile(r"ENGINE\s*=\s*(?P<engine>\w*MergeTree)(?:\s*\((?P<args>[^()]*)\))?", re.S)
_ALTER = re.compile(r"^ALTER TABLE (?P<db>\w+)\.(?P<table>\w+)\s+(?P<rest>.*)$", re.S)
# ALTER actions that change the columns a read sees (the Distributed table must follow).
_COLUMN_ACTION = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b", re.I)


def quote(cluster: str) -> str:
    return "'" + cluster.replace("\\", "\\\\").replace("'", "\\'") + "'"


def stored_table(database: str, table: str, cluster: str | None) -> str:
    """Where the rows of `table` are stored, for statements that change them or their TTL
    (`ALTER TABLE <this> UPDATE ...`, `MODIFY TTL`): the table itself without a cluster;
    on a cluster its Replicated local table on every node (`... ON CLUSTER 'c'`)."""
    if not cluster:
        return f"{database}.{table}"
    local = table if table in EVERY_NODE else table + LOCAL_SUFFIX
    return f"{database}.{local} ON CLUSTER {quote(cluster)}"


def cluster_statements(statement: str, cluster: str | None) -> list[str]:
    """The statements that carry out one migration statement on `cluster` (see the module)."""
    if not cluster:
        return [statement]
    if m := _CREATE.match(statement):
        return _create(statement, m, cluster)
    if m := _ALTER.match(statement):
        db, table, rest = m.group("db"), m.group("table"), m.group("rest")
        out = [f"ALTER TABLE {stored_table(db, table, cluster)} {rest}"]
        if table not in EVERY_NODE and _COLUMN_ACTION.match(rest.strip()):
            out.append(f"ALTER TABLE {db}.{table} ON CLUSTER {quote(cluster)} {rest}")
        return out
    raise ValueError(f"no cluster form for this migration statement: {statement[:80]!r}")


def _create(statement: str, m: re.Match, cluster: str) -> list[str]:
    db, table = m.group("db"), m.group("table")
    columns_end = _closing_paren(statement, m.end() - 1)
    columns = statement[m.end() - 1 : columns_end + 1]
    tail = statement[columns_end + 1 :]
    engine = _ENGINE.search(tail)
    if engine is None:
        raise ValueError(f"{db}.{table}: only MergeTree-family tables have a cluster form")
    every_node = table in EVERY_NODE
    local = table if every_node else table + LOCAL_SUFFIX
    shard = "all" if every_node else "{shard}"
    args = [f"'/clickhouse/tables/{shard}/{db}/{local}'", "'{replica}'"]
    if engine.group("args") and engine.group("args").strip():
        args.append(engine.group("args").strip())
    replicated = f"ENGINE = Replicated{engine.group('engine')}({', '.join(args)})"
    tail = tail[: engine.start()] + replicated + tail[engine.end() :]
    on = f"ON CLUSTER {quote(cluster)}"
    stored = f"CREATE TABLE IF NOT EXISTS {db}.{local} {on}\n{columns}{tail}"
    if every_node:
        return [stored]
    key = _sorting_key(tail)
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {db}.{table} {on} AS {db}.{local}\n"
        f"ENGINE = Distributed({quote(cluster)}, '{db}', '{local}', cityHash64({key}))"
    )
    return [stored, distributed]


def _sorting_key(tail: str) -> str:
    """The ORDER BY expression, without its outer parentheses: the shard key hashes all of it."""
    m = re.search(
        r"\bORDER BY\s+(.+?)\s*(?:\bPRIMARY KEY\b|\bSAMPLE BY\b|\bTTL\b|\bSETTINGS\b|\bCOMMENT\b|$)", tail, re.S
    )
    if m is None:
        raise ValueError("a sharded table needs an ORDER BY to shard by")
    key = m.group(1).strip()
    if key.startswith("(") and _closing_paren(key, 0) == len(key) - 1:
        key = key[1:-1].strip()
    return key


def _closing_paren(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at `start`, skipping quoted strings."""
    depth, i, quote_char = 0, start, None
    while i < len(text):
        ch = text[i]
        if quote_char:
            if ch == "\\":
                i += 1
            elif ch == quote_char:
                quote_char = None
        elif ch in "'`\"":
            quote_char = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced parentheses in a migration statement")
