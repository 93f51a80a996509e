"""The camera registry: facilities and their cameras, one YAML file, validated strictly.

```yaml
facilities:
  - {facility_id: garage-1, name: Main St garage, capacity: 420}
cameras:
  - camera_id: cam-g1-entry-1
    facility_id: garage-1
    lane: L1
    direction: entry
    source: var/footage/cam-g1-entry-1.mp4   # file, image folder, rtsp:// or http(s):// URL; omit for push-only
    fps_cap: 4
    roi: [[0, 300], [1280, 300], [1280, 720], [0, 720]]   # optional polygon, pixels: motion and plates outside are ignored
    upload_token_sha256: 9f86d0...                          # optional: the camera may POST /v1/frames
```

Upload tokens are stored as SHA-256 digests, never in clear. The tokens are random 32-byte
secrets (`alpr ingest camera-token` makes one), not passwords, so a slow password hash
(argon2) would add tens of milliseconds to every upload without adding strength.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from alpr.contracts.models import Direction, Id
from alpr.errors import ConfigError

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
Point = tuple[Annotated[int, Field(ge=0, le=16384)], Annotated[int, Field(ge=0, le=16384)]]


def hash_token(token: str) -> str:
    """The digest stored in the registry for an upload token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh upload token and its digest: give the token to the camera, put the digest in the YAML."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Facility(Entry):
    """A garage or lot whose lanes the cameras watch."""

    facility_id: Id
    name: str = Field("", max_length=200, description="Human name, for dashboards.")
    capacity: int = Field(ge=0, le=100_000, description="Parking spaces; occupancy reports against it.")


class Camera(Entry):
    """One camera: where it is (facility, lane, direction), where its frames come from, how many to keep."""

    camera_id: Id
    facility_id: Id
    lane: Id
    direction: Direction
    source: str | None = Field(
        None, description="Video file, image folder, rtsp:// or http(s):// stream; None for a camera that only pushes."
    )
    fps_cap: float = Field(5.0, gt=0, le=60, description="Most frames per second published from this camera.")
    roi: list[Point] | None = Field(
        None,
        min_length=3,
        max_length=64,
        description="Region of interest polygon (frame pixels): motion outside it is ignored, and plates whose box "
        "centre lies outside it are not read (signs, the street behind the lane).",
    )
    replay_start: AwareDatetime | None = Field(
        None, description="For file sources: capture time of the first frame (default: when the replay starts)."
    )
    replay_speed: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="For file sources: publish at this multiple of real time (1: as recorded), so that several "
        "cameras' replays interleave as live cameras would; None: as fast as Kafka takes them.",
    )
    upload_token_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the camera's upload token; None: uploads refused."
    )

    @field_validator("source")
    @classmethod
    def _source_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("source is blank; omit it for a push-only camera")
        return value

    @property
    def is_stream(self) -> bool:
        return self.source is not None and self.source.lower().startswith(STREAM_SCHEMES)

    @property
    def accepts_uploads(self) -> bool:
        return self.upload_token_sha256 is not None

    def token_matches(self, token: str) -> bool:
        """Constant-time comparison, so response timing reveals nothing about the digest."""
        if self.upload_token_sha256 is None:
            return False
        return hmac.compare_digest(hash_token(token), self.upload_token_sha256)

    def source_path(self, base: Path) -> Path:
        """A file or folder source as a path; relative paths are taken from `base`."""
        path = Path(self.source or "")
        return path if path.is_absolute() else base / path

    def public_source(self) -> str | None:
        """The source with any credentials in a URL removed (status pages must not show passwords)."""
        if self.source is None or not self.is_stream:
            return self.source
        parts = urlsplit(self.source)
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Registry(Entry):
    """Every facility and camera ingest knows about."""

    facilities: list[Facility] = Field(min_length=1)
    cameras: list[Camera] = Field(min_length=1)
    _by_id: dict[str, Camera] = PrivateAttr(default_factory=dict)
    _base_dir: Path = PrivateAttr(default=Path("."))

    @model_validator(mode="after")
    def _ids_unique_and_facilities_known(self):
        _unique("facility_id", [f.facility_id for f in self.facilities])
        _unique("camera_id", [c.camera_id for c in self.cameras])
        known = {f.facility_id for f in self.facilities}
        for camera in self.cameras:
            if camera.facility_id not in known:
                raise ValueError(f"camera {camera.camera_id}: facility {camera.facility_id} is not in facilities")
        return self

    def model_post_init(self, context) -> None:
        self._by_id = {c.camera_id: c for c in self.cameras}

    @property
    def base_dir(self) -> Path:
        """Directory that relative file sources are resolved against."""
        return self._base_dir

    def camera(self, camera_id: str) -> Camera | None:
        return self._by_id.get(camera_id)

    def facility(self, facility_id: str) -> Facility | None:
        return next((f for f in self.facilities if f.facility_id == facility_id), None)


def _unique(what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value} appears twice")
        seen.add(value)


def load_registry(path: Path, base_dir: Path | None = None) -> Registry:
    """Read and validate the registry, or raise a one-line ConfigError naming the file and the problem.

    Relative file sources are resolved against `base_dir` (default: the repository root when the
    file lives in `infra/`, else the file's own directory).
    """
    path = path.resolve()
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"camera registry {path} does not exist (ALPR_CAMERAS_FILE)") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"camera registry {path}: not YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"camera registry {path}: expected a mapping with facilities and cameras")
    if base_dir is None:
        base_dir = path.parent.parent if path.parent.name == "infra" else path.parent
    try:
        registry = Registry.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "registry"
        raise ConfigError(f"camera registry {path}: {where}: {first['msg']} ({err.error_count()} error(s))") from None
    registry._base_dir = base_dir
    return registry


def parse_time(value: str) -> datetime:
    """An RFC 3339 time with a zone (what cameras send in X-Captured-At)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("time has no zone")
    return parsed
