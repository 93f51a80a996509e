"""Ingest's own metrics. Fleet-wide counters carry only service/source/outcome labels; the
per-camera series are gauges, acceptable because a facility has a handful of cameras.

Frame outcomes (`alpr_ingest_frames_total`):
seen, selected, skipped_fps, skipped_still (selection); published (Kafka acknowledged),
failed (Kafka refused or timed out), dropped_overflow (live stream, queue full: oldest dropped),
busy (upload answered 503), rejected (upload answered 4xx), error (undecodable frame, encode failure).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SERVICE = "ingest"

FRAMES = Counter(
    "alpr_ingest_frames_total",
    "Frames by source kind (file, stream, upload) and outcome.",
    ["service", "source", "outcome"],
)
SOURCE_UP = Gauge(
    "alpr_ingest_source_up", "1 while a camera's source delivers frames, 0 while it reconnects.", ["camera"]
)
SOURCE_RECONNECTS = Counter(
    "alpr_ingest_source_reconnects_total", "Failed opens/reads of a stream followed by a backoff.", ["service"]
)
CAMERA_FRAMES_SEEN = Gauge("alpr_ingest_camera_frames_seen", "Frames read from a camera since start.", ["camera"])
CAMERA_FRAMES_SELECTED = Gauge(
    "alpr_ingest_camera_frames_selected", "Frames of a camera that passed fps cap and motion gate.", ["camera"]
)
CAMERA_LAST_CAPTURE = Gauge(
    "alpr_ingest_camera_last_capture_timestamp_seconds", "Capture time of a camera's latest frame.", ["camera"]
)
QUEUE_DEPTH = Gauge("alpr_ingest_queue_frames", "Frames handed to Kafka and not yet acknowledged.", ["service"])
BUFFER_DEPTH = Gauge(
    "alpr_ingest_stream_buffer_frames", "Live-stream frames waiting for room in the queue.", ["service"]
)
DELIVERY_SECONDS = Histogram(
    "alpr_ingest_delivery_seconds",
    "From ingest accepting a frame to Kafka acknowledging it.",
    ["service"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def count(source: str, outcome: str, n: int = 1) -> None:
    FRAMES.labels(SERVICE, source, outcome).inc(n)
