-- Vehicle passes: many reads of one vehicle crossing a lane folded into one row.
-- ReplacingMergeTree(version): a redelivered or refined pass replaces the earlier row.
CREATE TABLE IF NOT EXISTS {database}.passes
(
    pass_id        String,
    facility_id    LowCardinality(String),
    camera_id      LowCardinality(String),
    lane           LowCardinality(String),
    direction      Enum8('entry' = 1, 'exit' = 2, 'patrol' = 3),
    plate          String COMMENT 'empty for a no-plate pass',
    plate_key      String COMMENT 'confusable-normalised plate for fuzzy search',
    confidence     Float32,
    first_seen     DateTime64(3, 'UTC'),
    last_seen      DateTime64(3, 'UTC'),
    read_count     UInt16,
    best_read_id   String,
    crop_jpeg_b64  String,
    version        UInt64,
    held           UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen)
ORDER BY (facility_id, pass_id)
TTL toDateTime(first_seen) + INTERVAL 365 DAY DELETE WHERE held = 0;

-- Every occupancy change of a facility: passes and manual adjustments (who and why).
CREATE TABLE IF NOT EXISTS {database}.occupancy_history
(
    event_id     String,
    facility_id  LowCardinality(String),
    as_of        DateTime64(3, 'UTC'),
    occupied     Int32,
    capacity     Int32,
    delta        Int32,
    reason       Enum8('pass' = 1, 'adjustment' = 2),
    pass_id      String,
    actor        String,
    note         String,
    held         UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(as_of)
ORDER BY (facility_id, as_of, event_id)
TTL toDateTime(as_of) + INTERVAL 365 DAY DELETE WHERE held = 0;
