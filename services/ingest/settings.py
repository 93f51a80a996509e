"""Settings of the ingest service (frames in: cameras, video files, streams, HTTP uploads)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from alpr.settings import REPO_ROOT, ServiceSettings, shared


class IngestSettings(ServiceSettings):
    """Validated at start; each of its own fields has an `ALPR_INGEST_<FIELD>` environment variable, the
    shared ones (alpr.settings.CommonSettings) `ALPR_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="ALPR_INGEST_")

    http_port: int = Field(8001, ge=0, le=65535, description="Port of the ingest API.")
    cameras_file: Path = Field(
        REPO_ROOT / "infra" / "cameras.demo.yaml",
        validation_alias=shared("cameras_file"),
        description="Camera registry (YAML): facilities, cameras, their sources and upload-token hashes.",
    )
    jpeg_quality: int = Field(
        85, ge=30, le=100, description="JPEG quality of frames that ingest encodes (streams, files)."
    )
    max_frame_bytes: int = Field(
        1_000_000,
        ge=16 * 1024,
        le=8 * 1024 * 1024,
        description="Largest JPEG published; bigger frames are re-encoded at lower quality, or refused. Keep it "
        "under the topic's max.message.bytes (broker default ~1 MB).",
    )
    upload_max_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body POST /v1/frames reads; larger bodies get 413 before being read.",
    )
    queue_frames: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Frames handed to Kafka and not yet acknowledged, at most. When full, uploads get 503 "
        "and live streams drop their oldest waiting frame (counted).",
    )
    stream_buffer_frames: int = Field(
        64, ge=1, le=100_000, description="Live-stream frames waiting for room in the Kafka queue (drop-oldest)."
    )
    delivery_timeout_s: float = Field(
        10.0, gt=0, le=300, description="How long Kafka may take to acknowledge a frame before it counts as failed."
    )
    replay_delivery_timeout_s: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="How long Kafka may take to acknowledge a replayed file frame: librdkafka "
        "retries in order until then (through a broker restart); after it the frame is sent again, behind newer ones.",
    )
    upload_retry_after_s: int = Field(
        2, ge=1, le=3600, description="Retry-After (seconds) sent with a 503 when Kafka cannot take an upload."
    )
    reconnect_initial_s: float = Field(
        1.0, gt=0, le=60, description="First wait before reconnecting a stream that failed; doubles per failure."
    )
    reconnect_max_s: float = Field(60.0, gt=0, le=3600, description="Longest wait between stream reconnects.")
    stream_open_timeout_s: float = Field(
        10.0, gt=0, le=120, description="How long opening or reading an RTSP/HTTP stream may block."
    )
    motion_threshold: float = Field(
        0.002,
        ge=0.0,
        le=1.0,
        description="Fraction of region-of-interest pixels that must change for a frame to count as motion "
        "(0 sends every frame the fps cap allows).",
    )
    motion_hold_s: float = Field(
        2.0, ge=0, le=60, description="Keep sending for this long after motion stops (a car waiting at the barrier)."
    )

    @model_validator(mode="after")
    def _backoff_is_ordered(self):
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be at least reconnect_initial_s")
        return self
