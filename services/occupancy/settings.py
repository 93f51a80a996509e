"""Settings of the occupancy service (passes and live occupancy)."""

from __future__ import annotations

from pydantic import Field

from alpr.settings import ServiceSettings


class OccupancySettings(ServiceSettings):
    """Validated at start; every field has an `ALPR_<FIELD>` environment variable."""

    http_port: int = Field(8003, ge=0, le=65535, description="Port of the occupancy API.")
