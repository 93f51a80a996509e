-- Legal holds this service has applied (from alpr.holds.v1), latest state per hold_id.
-- Kept without TTL: a hold is the legal record of why rows outlive the 365-day purge.
CREATE TABLE IF NOT EXISTS {database}.holds
(
    hold_id    String,
    action     Enum8('place' = 1, 'release' = 2),
    basis      LowCardinality(String),
    case_ref   String,
    plates     Array(String),
    time_from  Nullable(DateTime64(3, 'UTC')),
    time_to    Nullable(DateTime64(3, 'UTC')),
    by         String,
    at         DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(at)
ORDER BY hold_id;
