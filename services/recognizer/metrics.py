"""Recognizer metrics: throughput, batch shape, stage latencies, no-read rate."""

from prometheus_client import Counter, Gauge, Histogram

FRAMES = Counter("alpr_recognizer_frames_total", "Frames handled, by outcome (plates, no_plate, dlq).", ["outcome"])
READS = Counter(
    "alpr_recognizer_reads_total", "Read records published, by outcome (read, unreadable, no_plate).", ["outcome"]
)
STAGE_SECONDS = Histogram(
    "alpr_recognizer_stage_seconds",
    "Time per batch in each stage (decode, inference, total).",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_FRAMES = Histogram(
    "alpr_recognizer_batch_frames", "Frames per inference batch.", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)
)
OUTSIDE_REGION = Counter(
    "alpr_recognizer_boxes_outside_region_total",
    "Plate boxes not read because their centre lies outside the camera's region of interest, by camera "
    "(steady growth: a sign or the street is in view; check the camera's roi).",
    ["camera"],
)
READY = Gauge("alpr_recognizer_ready", "1 once the models are loaded and warmed up.")
