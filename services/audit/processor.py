"""alpr.audit.v1 message -> audit_log row. Pure: no I/O, unit-testable with plain bytes."""

from __future__ import annotations

from typing import Any

from alpr.contracts.models import AuditEvent
from alpr.contracts.registry import Topic, decode

AUDIT = Topic.AUDIT.contract


def audit_row(value: bytes | None) -> dict[str, Any]:
    event: AuditEvent = decode(AUDIT, value)
    return {
        "event_id": event.event_id,
        "at": event.at,
        "service": event.service,
        "user": event.user,
        "role": event.role,
        "action": event.action,
        "resource": event.resource,
        "filters": event.filters,
        "plates": event.plates,
        "row_count": event.row_count,
        "client": event.client,
        "outcome": event.outcome,
        "reason": event.reason,
        "purpose": event.purpose,
        "case_ref": event.case_ref,
    }
