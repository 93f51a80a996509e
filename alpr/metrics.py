"""Metrics shared by every service, with few fixed labels (service, topic, outcome).

Services add their own metrics next to their code; these are the ones the shared Kafka
plumbing updates, so every consumer reports the same names (alert rules rely on them).
"""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("alpr_messages_total", "Messages consumed, by outcome (ok, dlq).", ["service", "topic", "outcome"])
DLQ_MESSAGES = Counter("alpr_dlq_messages_total", "Messages moved to a DLQ.", ["service", "topic"])
BATCH_SIZE = Histogram(
    "alpr_batch_size",
    "Messages per processed batch.",
    ["service"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
)
BATCH_SECONDS = Histogram(
    "alpr_batch_seconds",
    "Time to process, write and commit one batch.",
    ["service"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WRITE_FAILURES = Counter("alpr_write_failures_total", "Failed batch writes (retried).", ["service"])
CONSUMER_LAG = Gauge("alpr_consumer_lag", "Messages behind the end of the assigned partitions.", ["service", "topic"])
E2E_LATENCY = Histogram(
    "alpr_e2e_latency_seconds",
    "From frame capture to this service's output.",
    ["service", "stage"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30),
)
# A faust agent's stream jumped over offsets (alpr/kafka/faust_fixes.py): messages not processed.
OFFSET_JUMPS = Counter(
    "alpr_stream_offset_jumps", "Offsets a stream processor's input jumped over (messages lost)", ["service", "topic"]
)
# Token revocations (alpr/revocations.py): how many a service holds, and how long one took to arrive.
REVOCATIONS = Gauge("alpr_revocations", "Token revocations in force in this service's set.", ["service"])
REVOCATION_DELAY = Histogram(
    "alpr_revocation_delay_seconds",
    "From a revocation's publication (its `at`) to this service refusing the token.",
    ["service"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
