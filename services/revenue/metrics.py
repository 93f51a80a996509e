"""The revenue service's own Prometheus metrics (the shared consumer ones are in alpr.metrics)."""

from prometheus_client import Counter, Gauge

SERVICE = "revenue"

IDLE_TICKS = Counter(
    "alpr_revenue_idle_ticks", "Clock ticks published to the matcher because the passes partitions were idle."
)
STREAM_CLOCK = Gauge(
    "alpr_revenue_stream_clock_seconds",
    "The latest clock (capture time, epoch seconds) published to the matcher by traffic or idle ticks.",
)

# Policy section 9, live (services/revenue/accuracy.py): each camera's rates from the review
# sample, with the lower and upper ends of their 95% interval, refreshed by the accuracy worker.
ACCURACY_LABELS = ("facility", "camera", "bound")
PERFECT_READ_RATE = Gauge(
    "alpr_camera_perfect_read_rate",
    "Share of a camera's reviewed (sampled) passes read exactly right; bound=estimate|low|high (95% Wilson).",
    ACCURACY_LABELS,
)
CAPTURE_RATE = Gauge(
    "alpr_camera_capture_rate",
    "Share of a camera's passes that found a plate; bound=estimate|low|high (95% Wilson).",
    ACCURACY_LABELS,
)
REVIEWED_READS = Gauge(
    "alpr_camera_reviewed_reads",
    "Reviewed (sampled) passes of a camera in the accuracy window.",
    ("facility", "camera"),
)
