"""Settings of the revenue service (sessions, payments, matches, violations)."""

from __future__ import annotations

from pydantic import Field

from alpr.settings import ServiceSettings


class RevenueSettings(ServiceSettings):
    """Validated at start; every field has an `ALPR_<FIELD>` environment variable."""

    http_port: int = Field(8004, ge=0, le=65535, description="Port of the revenue API.")
