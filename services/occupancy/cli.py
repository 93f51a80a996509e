"""`alpr occupancy serve` (the faust worker + API) and `alpr occupancy bench`."""

from __future__ import annotations

from alpr.output import emit


def _serve(args) -> int:
    from alpr import logs
    from alpr.settings import load_settings
    from services.occupancy.main import run
    from services.occupancy.settings import OccupancySettings

    settings = load_settings(OccupancySettings)
    logs.configure("occupancy", settings.log_level)
    return run(settings)


def _bench(args) -> int:
    from alpr.settings import load_settings
    from services.occupancy.bench import run_bench
    from services.occupancy.settings import OccupancySettings

    settings = load_settings(OccupancySettings)
    result = run_bench(settings, reads=args.reads, rate=args.rate, latency_reads=args.latency_reads)
    if args.json:
        emit(result)
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    return 0


def register(sub) -> None:
    occ = sub.add_parser("occupancy", help="vehicle passes and live facility occupancy (faust worker + API)")
    ops = occ.add_subparsers(dest="op", required=True)
    ops.add_parser(
        "serve", help="run the occupancy service: reads -> passes -> occupancy, API and dashboard"
    ).set_defaults(handler=_serve)
    b = ops.add_parser("bench", help="throughput (reads/s) and read->event latency at a fixed rate, on the real broker")
    b.add_argument("--reads", type=int, default=20_000, help="reads in the throughput run")
    b.add_argument("--rate", type=float, default=200.0, help="reads/s of the latency run")
    b.add_argument("--latency-reads", type=int, default=3000, help="reads in the latency run")
    b.add_argument("--json", action="store_true", help="one JSON object on stdout")
    b.set_defaults(handler=_bench)
