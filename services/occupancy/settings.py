"""Settings of the occupancy service (passes and live occupancy)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from alpr.settings import REPO_ROOT, ServiceSettings, shared


class OccupancySettings(ServiceSettings):
    """Validated at start; each of its own fields has an `ALPR_OCCUPANCY_<FIELD>` environment variable, the
    shared ones (alpr.settings.CommonSettings) `ALPR_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="ALPR_OCCUPANCY_")

    http_port: int = Field(8003, ge=0, le=65535, description="Port of the occupancy API.")
    cameras_file: Path = Field(
        REPO_ROOT / "infra" / "cameras.demo.yaml",
        validation_alias=shared("cameras_file"),
        description="Camera registry (YAML) shared with ingest; occupancy reads the facilities and their capacities.",
    )
    faust_app_id: str = Field(
        "alpr-occupancy",
        pattern=r"^[a-z0-9._-]+$",
        description="faust application id: the consumer group and the changelog topic names "
        "(<topic_prefix><app id>-facility-state-changelog).",
    )
    pass_gap_s: float = Field(
        3.0,
        gt=0,
        le=120,
        description="Reads of one lane more than this far apart (capture time) belong to different passes.",
    )
    pass_horizon_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How far behind a lane's latest read (capture time) a read may still arrive and find its "
        "vehicle: reads reach occupancy out of order when frames or reads are sent again (a broker restart). "
        "Older reads are skipped as late. Each lane keeps its passes this long, crops included (state size).",
    )
    plate_max_distance: int = Field(
        1,
        ge=0,
        le=3,
        description="Edits allowed between two plates (after folding confusable characters) for them to be "
        "the same vehicle within a lane window; plates shorter than 5 characters must match exactly.",
    )
    no_plate_min_reads: int = Field(
        2,
        ge=1,
        le=20,
        description="'unreadable' reads in one lane window (and no plate) that make a no-plate pass; fewer "
        "are taken for a spurious detection and not counted.",
    )
    overflow_tolerance: float = Field(
        0.10,
        ge=0,
        le=1,
        description="Occupancy may exceed capacity by this fraction (double parking, counting drift) and no more.",
    )
    batch_max: int = Field(500, ge=1, le=10_000, description="Most reads processed (and written) as one batch.")
    batch_within_s: float = Field(
        0.01, gt=0, le=5, description="Longest wait for a batch to fill; bounds the latency it adds."
    )
    commit_interval_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often faust commits consumed offsets (each batch's state is acknowledged before, "
        "alpr.kafka.state); a crash replays at most this much, and the state's offset guard skips what it "
        "already holds.",
    )
    state_crop_max_bytes: int = Field(
        48_000,
        ge=0,
        le=200_000,
        description="Largest best-read crop kept in the open pass's changelog state; a larger crop is not stored "
        "with the pass (the changelog message of a facility must stay under the topic's size limit).",
    )
    state_context_max_bytes: int = Field(
        40_000,
        ge=0,
        le=200_000,
        description="Largest best-read context frame kept with the open pass (same reason as the crop's limit): a "
        "480 px frame at JPEG quality 60 is 20-30 KB; a larger one is not carried to the pass.",
    )
    recent_ids: int = Field(
        512,
        ge=16,
        le=100_000,
        description="Read ids and counted pass ids remembered per facility, so that a re-published read never "
        "counts twice.",
    )
    sse_heartbeat_s: float = Field(
        5.0, gt=0, le=300, description="Seconds between keep-alive messages on the live stream (SSE)."
    )
