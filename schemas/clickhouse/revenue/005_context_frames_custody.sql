-- Issue #16: evidence with the vehicle in view, and the chain of custody of the packages.
-- The context frame of each pass (the full frame of its best read, downscaled, JPEG): kept with
-- the pass, so the same 365-day TTL and legal holds; frames live one day in Kafka, an appeal
-- comes weeks later.
ALTER TABLE {database}.passes ADD COLUMN IF NOT EXISTS context_jpeg_b64 String DEFAULT '';

-- Every download of an evidence package: who, when, the SHA-256 of the bytes served. Legal holds
-- reach it by the plate and the session's time (session_at), like the session's own rows.
CREATE TABLE IF NOT EXISTS {database}.evidence_custody
(
    session_id      String,
    plate           String,
    session_at      DateTime64(3, 'UTC'),
    downloaded_at   DateTime64(3, 'UTC'),
    downloaded_by   String,
    sha256          String,
    files           UInt32,
    held            UInt8 DEFAULT 0
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(downloaded_at)
ORDER BY (session_id, downloaded_at)
TTL toDateTime(downloaded_at) + INTERVAL 365 DAY DELETE WHERE held = 0;
