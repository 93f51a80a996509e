"""Settings of the audit service (governance: users, audit trail, holds, releases)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from alpr.auth import MAX_TOKEN_TTL_S
from alpr.credentials import SecretFileError, read_secret
from alpr.errors import ConfigError
from alpr.settings import REPO_ROOT, ServiceSettings


class AuditSettings(ServiceSettings):
    """Validated at start; each of its own fields has an `ALPR_AUDIT_<FIELD>` environment variable, the
    shared ones (alpr.settings.CommonSettings) `ALPR_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="ALPR_AUDIT_")

    http_port: int = Field(8005, ge=0, le=65535, description="Port of the audit API.")
    audit_retention_days: int = Field(
        2555,
        ge=365,
        description="How long the audit log is kept (days). Separate from the 365-day ALPR data purge; "
        "at least a year so that every access to retained data stays explainable.",
        validation_alias="ALPR_AUDIT_RETENTION_DAYS",  # not ALPR_AUDIT_AUDIT_...
    )
    governance_db_url: str | None = Field(
        None,
        pattern=r"^(sqlite:///.+|postgres(ql)?://.+)$",
        description="Users, holds and releases: postgresql://user@host/db (its password in "
        "ALPR_AUDIT_GOVERNANCE_DB_PASSWORD_FILE), or sqlite:///path. "
        "Default: sqlite:///<data_dir>/governance/governance.sqlite3.",
    )
    governance_db_password_file: Path | None = Field(
        None,
        description="File holding the PostgreSQL password of ALPR_AUDIT_GOVERNANCE_DB_URL's user "
        "(a mounted Secret): production refuses a password in the URL.",
    )
    max_failed_logins: int = Field(5, ge=1, le=20, description="Wrong passwords in a row that lock an account.")
    lockout_minutes: int = Field(15, ge=1, description="How long a locked account stays locked.")
    token_ttl_minutes: int = Field(15, ge=1, le=MAX_TOKEN_TTL_S // 60, description="Lifetime of an access token.")
    revocation_sweep_s: float = Field(
        60.0, ge=1.0, description="How often expired token revocations are tombstoned on alpr.revocations.v1."
    )
    policy_file: Path = Field(
        REPO_ROOT / "docs" / "alpr-policy.md",
        description="The operator's ALPR policy, published on the public transparency page (section 11).",
    )

    @property
    def governance_url(self) -> str:
        return self.governance_db_url or f"sqlite:///{Path(self.data_dir) / 'governance' / 'governance.sqlite3'}"

    @model_validator(mode="after")
    def _governance_login(self):
        from urllib.parse import urlparse

        url = self.governance_db_url or ""
        postgres = url.startswith(("postgresql://", "postgres://"))
        if self.governance_db_password_file is not None and not postgres:
            # A password file beside SQLite would be silently unused.
            raise ValueError(
                "ALPR_AUDIT_GOVERNANCE_DB_PASSWORD_FILE needs a postgresql:// ALPR_AUDIT_GOVERNANCE_DB_URL"
            )
        if postgres and self.environment == "production" and urlparse(url).password:
            raise ValueError(
                "ALPR_AUDIT_GOVERNANCE_DB_URL carries a password: put it in ALPR_AUDIT_GOVERNANCE_DB_PASSWORD_FILE"
            )
        return self

    def governance_db(self):
        """The governance store these settings name, logged in with the password file when one is set."""
        from services.audit.db import GovernanceDB

        password = None
        if self.governance_db_password_file is not None:
            try:
                secret = read_secret(Path(self.governance_db_password_file), "ALPR_AUDIT_GOVERNANCE_DB_PASSWORD_FILE")
            except SecretFileError as err:
                raise ConfigError(str(err)) from None
            password = secret.get_secret_value()
        return GovernanceDB(self.governance_url, password=password)

    release_sources: dict[str, str] = Field(
        default_factory=lambda: {"occupancy": "http://127.0.0.1:8003", "revenue": "http://127.0.0.1:8004"},
        description="Data-owning services a release package is exported from: name -> base URL (JSON in the env).",
    )
    console_sources: dict[str, str] = Field(
        default_factory=lambda: {
            "ingest": "http://127.0.0.1:8001",
            "occupancy": "http://127.0.0.1:8003",
            "revenue": "http://127.0.0.1:8004",
        },
        description="The services the console's pages call with the user's token: name -> base URL (JSON in the env).",
    )
    console_stale_after_s: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="The console's operations page warns that its numbers are stale when the live stream "
        "was silent this long (occupancy sends a heartbeat every ALPR_OCCUPANCY_SSE_HEARTBEAT_S).",
    )
    release_token_minutes: int = Field(
        10, ge=1, le=60, description="Lifetime of the token minted for one release export."
    )
