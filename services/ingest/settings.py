"""Settings of the ingest service (frames in: cameras, video files, streams, HTTP uploads)."""

from __future__ import annotations

from pydantic import Field

from alpr.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    """Validated at start; every field has an `ALPR_<FIELD>` environment variable."""

    http_port: int = Field(8001, ge=0, le=65535, description="Port of the ingest API.")
