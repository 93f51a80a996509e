"""The governance service's own Prometheus metrics (the shared consumer ones are in alpr.metrics).

Refusals are what an auditor alerts on (a role probing for data it may not see, a revoked
token still in use): counted by service and outcome as the events are stored."""

from prometheus_client import Counter

SERVICE = "audit"

EVENTS_STORED = Counter(
    "alpr_audit_events_stored_total",
    "Audit events written to the audit log, by service and outcome.",
    ["service", "outcome"],
)
