"""What occupancy hands over for an approved release to a public agency (policy section 7).

Mounted with `alpr.release.release_router`: the route accepts only a release token, and this
function returns the passes inside the release's scope (its plates and/or time range), with
the crop of each pass's best read. Occupancy history holds no plates, so a release scoped
to plates gets none of it; a release scoped by time only gets the facility counts too.
"""

from __future__ import annotations

from typing import Any

from alpr.release import ReleaseScope
from alpr.store import Store

PASS_COLUMNS = (
    "pass_id, facility_id, camera_id, lane, toString(direction) AS direction, plate, confidence, "
    "toString(first_seen) AS first_seen_utc, toString(last_seen) AS last_seen_utc, read_count, best_read_id, crop_jpeg_b64"
)


def export_release(store: Store, scope: ReleaseScope) -> dict[str, list[dict[str, Any]]]:
    """Rows of this service within the release scope, by table."""
    params: dict[str, Any] = {**scope.bounds(), "plates": list(scope.plates)}
    plate_filter = "AND has({plates:Array(String)}, plate)" if scope.plates else ""
    passes = store.query(
        f"SELECT {PASS_COLUMNS} FROM {store.database}.passes FINAL "
        "WHERE first_seen >= {start:DateTime64(3, 'UTC')} AND first_seen < {end:DateTime64(3, 'UTC')} "
        f"{plate_filter} ORDER BY first_seen",
        params,
    )
    tables = {"passes": passes}
    if not scope.plates:
        tables["occupancy_history"] = store.query(
            "SELECT event_id, facility_id, toString(as_of) AS as_of_utc, occupied, capacity, delta, toString(reason) AS reason, "
            f"pass_id, actor, note FROM {store.database}.occupancy_history FINAL "
            "WHERE as_of >= {start:DateTime64(3, 'UTC')} AND as_of < {end:DateTime64(3, 'UTC')} ORDER BY as_of",
            params,
        )
    return tables
