"""Settings of the audit service (governance: users, audit trail, holds, releases)."""

from __future__ import annotations

from pydantic import Field

from alpr.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    """Validated at start; every field has an `ALPR_<FIELD>` environment variable."""

    http_port: int = Field(8005, ge=0, le=65535, description="Port of the audit API.")
    audit_retention_days: int = Field(
        2555,
        ge=365,
        description="How long the audit log is kept (days). Separate from the 365-day ALPR data purge; "
        "at least a year so that every access to retained data stays explainable.",
    )
