"""Settings of the revenue service (sessions, payments, matches, violations)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from alpr.settings import REPO_ROOT, ServiceSettings, shared


class RevenueSettings(ServiceSettings):
    """Validated at start; each of its own fields has an `ALPR_REVENUE_<FIELD>` environment variable, the
    shared ones (alpr.settings.CommonSettings) `ALPR_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="ALPR_REVENUE_")

    http_port: int = Field(8004, ge=0, le=65535, description="Port of the revenue API.")
    tariff_file: Path = Field(
        REPO_ROOT / "infra" / "tariff.demo.yaml",
        description="The operator's fee resolution (YAML): per facility rates, maxima, grace, free periods, permits.",
    )
    cameras_file: Path = Field(
        REPO_ROOT / "infra" / "cameras.demo.yaml",
        validation_alias=shared("cameras_file"),
        description="Camera registry shared with ingest; revenue reads the facility ids to validate payments.",
    )
    faust_app_id: str = Field(
        "alpr-revenue",
        pattern=r"^[a-z0-9._-]+$",
        description="faust application id (after the topic prefix): consumer group, changelog and re-keyed topic names.",
    )
    orphan_after_h: float = Field(
        24.0,
        gt=0,
        le=24 * 31,
        description="An entry with no exit after this many hours (stream time of its facility) is closed as an orphan.",
    )
    payment_early_min: int = Field(
        15,
        ge=0,
        le=24 * 60,
        description="A payment made up to this many minutes before the entry counts for the session.",
    )
    payment_late_min: float = Field(
        60,
        ge=0,
        le=7 * 24 * 60,
        description="A payment made up to this many minutes after the exit counts for the session (fractions of a "
        "minute for the compressed days of demos and tests).",
    )
    idle_lag_s: float = Field(
        300.0,
        ge=1,
        le=86_400,
        description="Once no pass has arrived on a passes partition for this many seconds, the clock that decides "
        "sessions moves on with the wall clock, this far behind it (services/revenue/clock.py): a quiet night's last "
        "sessions are decided when their payment window has passed, not at the next vehicle. A payment that reaches "
        "revenue later than its window plus this lag revises the decision instead of making it.",
    )
    max_clock_skew_s: int = Field(
        300, ge=0, le=86_400, description="Payments dated further than this in the future are refused (a wrong clock)."
    )
    rekey_partitions: int = Field(
        6,
        ge=1,
        le=1000,
        description="Partitions of the two re-keyed internal topics (sessions and payments by plate key) that the "
        "matcher joins; fixed once created.",
    )
    batch_max: int = Field(500, ge=1, le=10_000, description="Most messages processed (and written) as one batch.")
    batch_within_s: float = Field(0.05, gt=0, le=5, description="Longest wait for a batch to fill.")
    recent_pass_ids: int = Field(
        1024,
        ge=16,
        le=100_000,
        description="Pass ids (with their version) remembered per facility, so that a republished pass never counts twice.",
    )
    session_timeout_s: float = Field(
        10.0,
        ge=6,
        le=300,
        description="Kafka consumer session timeout: how soon a killed instance's partitions move (or, after "
        "SIGKILL, how long its restart waits for the old member to expire).",
    )
    evidence_max_passes: int = Field(
        20, ge=1, le=200, description="Most passes (entry, exit, patrol) put into one evidence package."
    )
    verified_confidence: float = Field(
        0.95,
        ge=0.0,
        le=1.0,
        description="A violation is issued on a machine read only when the lowest calibrated confidence of its reads "
        "is at least this; below it the case waits for a reviewer (services/revenue/review.py). The default selects "
        "the recognizer's top calibrated steps: 99.30% of held reads right, cross-validated (docs/architecture.md).",
    )
    accuracy_window_h: float = Field(
        168.0,
        gt=0,
        le=24 * 365,
        description="Rolling window of the per-camera accuracy figures (services/revenue/accuracy.py).",
    )
    accuracy_every_s: float = Field(
        60.0, ge=1, le=3600, description="How often the per-camera accuracy gauges are measured again."
    )
    review_sample_rate: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="Share of the other sessions sent to review as an accuracy sample (by a hash of the session id).",
    )

    @model_validator(mode="after")
    def _late_window_shorter_than_orphan_time(self):
        # A payment window wider than the orphan time would let one payment cover two stays.
        if self.payment_late_min / 60 > self.orphan_after_h:
            raise ValueError("payment_late_min must not exceed orphan_after_h")
        return self
