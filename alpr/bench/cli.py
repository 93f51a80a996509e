"""`alpr bench <what>`: the project's benchmarks; each prints figures with the machine."""

from __future__ import annotations

import sys
from alpr.output import emit


def _settings():
    from alpr.settings import CommonSettings, load_settings

    return load_settings(CommonSettings)


def _emit(result: dict, as_json: bool) -> int:
    if as_json:
        emit(result)
    else:
        for k, v in result.items():
            print(f"{k:28} {v}")
    return 0


def _recognizer(args) -> int:
    from services.recognizer.bench import run_bench

    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    return _emit(run_bench(_settings().kafka_bootstrap, frames=args.frames, batch=args.batch, device=args.device,
                           progress=say), args.json)


def _ingest(args) -> int:
    from services.ingest.bench import run_bench

    return _emit(run_bench(_settings().kafka_bootstrap, frames=args.frames), args.json)


def _store(args) -> int:
    from alpr.store.bench import run_bench

    return _emit(run_bench(rows=args.rows), args.json)


def _pipeline(args) -> int:
    from alpr.bench.pipeline import run_bench

    settings = _settings()
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    return _emit(run_bench(settings.kafka_bootstrap, settings.data_dir, rate=args.rate, vehicles=args.vehicles,
                           replicas=args.replicas, progress=say), args.json)


def register(sub) -> None:
    bench = sub.add_parser("bench", help="benchmarks: recognizer, ingest, store, pipeline (figures with the machine)")
    ops = bench.add_subparsers(dest="what", required=True)
    r = ops.add_parser("recognizer", help="frames/s of one replica on 1280x720 JPEG frames, real broker and models")
    r.add_argument("--frames", type=int, default=200)
    r.add_argument("--batch", type=int, default=16)
    r.add_argument("--device", default="auto")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=_recognizer)
    i = ops.add_parser("ingest", help="frames/s one ingest process publishes")
    i.add_argument("--frames", type=int, default=2000)
    i.add_argument("--json", action="store_true")
    i.set_defaults(handler=_ingest)
    p = ops.add_parser("pipeline", help="ingest -> recognizer -> occupancy -> revenue at a given rate: latencies")
    p.add_argument("--rate", type=float, default=8.0, help="frames per second offered to ingest")
    p.add_argument("--vehicles", type=int, default=40)
    p.add_argument("--replicas", type=int, default=1, help="recognizer replicas")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_pipeline)
    s = ops.add_parser("store", help="ClickHouse batch insert rows/s (the configured store)")
    s.add_argument("--rows", type=int, default=500_000)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=_store)
