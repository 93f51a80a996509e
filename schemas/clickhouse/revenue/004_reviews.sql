-- Issue #16: citations only on verified reads, and the review queue.
-- Why each violation may be cited ('confidence:<lowest read confidence>' or 'review:<reviewer>'),
-- and whether it stands ('issued') or was withdrawn (latest row per violation_id wins).
ALTER TABLE {database}.violations ADD COLUMN IF NOT EXISTS verified_by String;
ALTER TABLE {database}.violations ADD COLUMN IF NOT EXISTS state LowCardinality(String) DEFAULT 'issued';

-- The review queue: one task per session (review_id = session_id), queued by the matcher, decided
-- by a reviewer (version = decision time in ms; queued = 1). Same retention and legal-hold
-- exemption as the session it reviews.
CREATE TABLE IF NOT EXISTS {database}.reviews
(
    review_id          String,
    session_id         String,
    facility_id        LowCardinality(String),
    plate              String,
    plate_key          String,
    reasons            Array(String),
    state              LowCardinality(String),
    entry_pass_id      String,
    exit_pass_id       String,
    entry_confidence   Float32,
    exit_confidence    Float32,
    created_at         DateTime64(3, 'UTC'),
    plate_after        String,
    reviewer           String,
    decided_at         Nullable(DateTime64(3, 'UTC')),
    version            UInt64,
    held               UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (facility_id, review_id)
TTL toDateTime(created_at) + INTERVAL 365 DAY DELETE WHERE held = 0;
