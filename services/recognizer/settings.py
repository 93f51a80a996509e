"""Settings of the recognizer service (plate detection and reading)."""

from __future__ import annotations

from pydantic import Field

from alpr.settings import ServiceSettings


class RecognizerSettings(ServiceSettings):
    """Validated at start; every field has an `ALPR_<FIELD>` environment variable."""

    http_port: int = Field(8002, ge=0, le=65535, description="Port of the recognizer API.")
