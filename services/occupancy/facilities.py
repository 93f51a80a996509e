"""The facilities occupancy counts against: read (read-only) from the camera registry YAML.

Ingest and occupancy share one registry (`ALPR_CAMERAS_FILE`): a facility's capacity is
written once, next to its cameras, so the two services cannot disagree about which
facilities exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Facility:
    facility_id: str
    name: str
    capacity: int


def load_facilities(cameras_file: Path) -> dict[str, Facility]:
    """Facilities by id, from the camera registry; a bad file is a one-line ConfigError."""
    from alpr.cameras import load_registry

    registry = load_registry(Path(cameras_file))
    return {f.facility_id: Facility(f.facility_id, f.name or f.facility_id, f.capacity) for f in registry.facilities}
