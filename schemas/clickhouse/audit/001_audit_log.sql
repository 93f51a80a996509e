-- The audit trail (policy sections 3.C.1 and 6): append-only; no API updates or deletes it.
-- ReplacingMergeTree only folds a redelivered copy of the same event_id. Retention is the
-- ALPR_AUDIT_RETENTION_DAYS setting, applied by `alpr db migrate` (MODIFY TTL) after this file.
CREATE TABLE IF NOT EXISTS {database}.audit_log
(
    event_id   String,
    at         DateTime64(3, 'UTC'),
    service    LowCardinality(String),
    user       String,
    role       LowCardinality(String),
    action     LowCardinality(String),
    resource   String,
    filters    Map(String, String),
    plates     Array(String),
    row_count  UInt64,
    client     String,
    outcome    Enum8('allowed' = 1, 'denied' = 2, 'error' = 3),
    reason     String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (toDate(at), user, event_id)
TTL toDateTime(at) + INTERVAL 2555 DAY DELETE;
