"""`alpr occupancy serve`: the faust worker and the API (its benchmark: `alpr bench occupancy`)."""

from __future__ import annotations


def _serve(args) -> int:
    from alpr import logs
    from alpr.settings import load_settings
    from services.occupancy.main import run
    from services.occupancy.settings import OccupancySettings

    settings = load_settings(OccupancySettings)
    logs.configure("occupancy", settings.log_level)
    return run(settings)


def register(sub) -> None:
    occ = sub.add_parser("occupancy", help="vehicle passes and live facility occupancy (faust worker + API)")
    ops = occ.add_subparsers(dest="op", required=True)
    ops.add_parser("serve", help="run the occupancy service: reads -> passes -> occupancy, and its API").set_defaults(
        handler=_serve
    )
