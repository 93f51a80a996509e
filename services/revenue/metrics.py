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
