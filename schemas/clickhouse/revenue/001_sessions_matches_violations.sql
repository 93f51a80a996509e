-- Parking sessions: an entry pass paired with its exit pass (or still open / orphaned).
CREATE TABLE IF NOT EXISTS {database}.sessions
(
    session_id        String,
    facility_id       LowCardinality(String),
    plate             String,
    entry_pass_id     String,
    exit_pass_id      String,
    entry_at          DateTime64(3, 'UTC'),
    exit_at           Nullable(DateTime64(3, 'UTC')),
    state             Enum8('open' = 1, 'closed' = 2, 'orphan_entry' = 3, 'exit_without_entry' = 4),
    pair_confidence   Float32,
    pair_reason       String,
    version           UInt64,
    held              UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(entry_at)
ORDER BY (facility_id, session_id)
TTL toDateTime(entry_at) + INTERVAL 365 DAY DELETE WHERE held = 0;

-- Payments, permits and validations as received (deduplicated by payment_id).
CREATE TABLE IF NOT EXISTS {database}.payments
(
    payment_id    String,
    kind          LowCardinality(String),
    facility_id   LowCardinality(String),
    plate         String,
    amount_cents  Int64,
    paid_at       DateTime64(3, 'UTC'),
    valid_from    DateTime64(3, 'UTC'),
    valid_until   DateTime64(3, 'UTC'),
    permit_type   String,
    source        String,
    held          UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(paid_at)
ORDER BY (payment_id)
TTL toDateTime(paid_at) + INTERVAL 365 DAY DELETE WHERE held = 0;

-- Exactly one final match per session: ReplacingMergeTree keyed by session_id.
CREATE TABLE IF NOT EXISTS {database}.matches
(
    match_id           String,
    session_id         String,
    facility_id        LowCardinality(String),
    plate              String,
    status             LowCardinality(String),
    entry_at           DateTime64(3, 'UTC'),
    exit_at            Nullable(DateTime64(3, 'UTC')),
    amount_due_cents   Int64,
    amount_paid_cents  Int64,
    payment_ids        Array(String),
    evidence_pass_ids  Array(String),
    match_confidence   Float32,
    reason             String,
    tariff_version     String,
    decided_at         DateTime64(3, 'UTC'),
    held               UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(decided_at)
PARTITION BY toYYYYMM(entry_at)
ORDER BY (facility_id, session_id)
TTL toDateTime(entry_at) + INTERVAL 365 DAY DELETE WHERE held = 0;

CREATE TABLE IF NOT EXISTS {database}.violations
(
    violation_id       String,
    kind               LowCardinality(String),
    session_id         String,
    facility_id        LowCardinality(String),
    plate              String,
    detected_at        DateTime64(3, 'UTC'),
    amount_due_cents   Int64,
    evidence_pass_ids  Array(String),
    reason             String,
    held               UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(detected_at)
ORDER BY (facility_id, violation_id)
TTL toDateTime(detected_at) + INTERVAL 365 DAY DELETE WHERE held = 0;
