-- Evidence for appeals: every pass version the service saw (times, camera, lane, confidence,
-- read ids, model versions, the best crop), latest version per pass_id.
CREATE TABLE IF NOT EXISTS {database}.passes
(
    pass_id          String,
    facility_id      LowCardinality(String),
    camera_id        String,
    lane             String,
    direction        LowCardinality(String),
    plate            String,
    plate_key        String,
    confidence       Float32,
    first_seen       DateTime64(3, 'UTC'),
    last_seen        DateTime64(3, 'UTC'),
    read_count       UInt32,
    best_read_id     String,
    read_ids         Array(String),
    model_detector   String,
    model_reader     String,
    crop_jpeg_b64    String,
    version          UInt64,
    held             UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first_seen)
ORDER BY (facility_id, pass_id)
TTL toDateTime(first_seen) + INTERVAL 365 DAY DELETE WHERE held = 0;

-- Sessions: the patrol passes that confirmed presence, the plate key, and each pass's confidence.
ALTER TABLE {database}.sessions ADD COLUMN IF NOT EXISTS patrol_pass_ids Array(String);
ALTER TABLE {database}.sessions ADD COLUMN IF NOT EXISTS plate_key String;
ALTER TABLE {database}.sessions ADD COLUMN IF NOT EXISTS entry_confidence Float32;
ALTER TABLE {database}.sessions ADD COLUMN IF NOT EXISTS exit_confidence Float32;

-- Matches: the payment lookup made (plate key, window, each candidate and its verdict, the fee lines), as JSON.
ALTER TABLE {database}.matches ADD COLUMN IF NOT EXISTS lookup String;
ALTER TABLE {database}.matches ADD COLUMN IF NOT EXISTS session_state LowCardinality(String);
