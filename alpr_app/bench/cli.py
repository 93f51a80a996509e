"""`alpr bench <what>`: the project's benchmarks; each prints figures with the machine."""

from __future__ import annotations

import sys

from alpr.errors import AlprError
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
    from alpr_app.bench.recognizer import run_bench

    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    return _emit(
        run_bench(_settings().kafka_bootstrap, frames=args.frames, batch=args.batch, device=args.device, progress=say),
        args.json,
    )


def _ingest(args) -> int:
    from alpr.settings import load_settings
    from alpr_app.bench.ingest import run_bench
    from services.ingest.settings import IngestSettings

    settings = load_settings(IngestSettings)
    result = run_bench(
        settings.kafka_bootstrap,
        frames=args.frames,
        quality=settings.jpeg_quality,
        max_bytes=settings.max_frame_bytes,
        queue_frames=settings.queue_frames,
        settings=settings,
    )
    if args.json:
        return _emit(result, True)
    for name in ("publish", "encode_and_publish"):
        r = result[name]
        print(
            f"{name}: {r['frames_per_s']} frames/s ({r['mb_per_s']} MB/s, {r['mean_jpeg_kb']} kB/frame, "
            f"{r['frames']} frames, {r['failed']} failed) on {result['machine']}"
        )
    u = result["upload"]
    print(
        f"upload: {u['frames_per_s']} frames/s with {u['concurrency']} clients, p50 {u['latency_ms_p50']} ms, "
        f"p99 {u['latency_ms_p99']} ms, answers {u['status_codes']}"
    )
    return 0


def _occupancy(args) -> int:
    from alpr.settings import load_settings
    from alpr_app.bench.occupancy import run_bench
    from services.occupancy.settings import OccupancySettings

    settings = load_settings(OccupancySettings)
    return _emit(run_bench(settings, reads=args.reads, rate=args.rate, latency_reads=args.latency_reads), args.json)


def _revenue(args) -> int:
    from alpr_app.bench.revenue import run_bench

    return run_bench(args)


def _store(args) -> int:
    from alpr.store.bench import run_bench

    return _emit(run_bench(rows=args.rows), args.json)


def _pipeline(args) -> int:
    from alpr_app.bench.pipeline import run_bench

    settings = _settings()
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    return _emit(
        run_bench(
            settings.kafka_bootstrap,
            settings.data_dir,
            rate=args.rate,
            vehicles=args.vehicles,
            replicas=args.replicas,
            progress=say,
        ),
        args.json,
    )


def _models(args) -> int:
    from pathlib import Path

    from alpr.settings import load_settings
    from alpr_app.models.bench_models import run_bench
    from alpr_app.models.cli import datasets_dir
    from services.recognizer.settings import RecognizerSettings

    settings = load_settings(RecognizerSettings)
    configured = f"{settings.detector}+{settings.reader}"
    backends = [configured if b == "default" else b for b in args.backends.split(",") if b]
    real = Path(args.real) if args.real else Path(datasets_dir(None)) / "plates-ro-detect" / "images" / "val"
    if args.real_frames > 0 and not real.is_dir():
        # Without them the bench would time synthetic frames only, and its ratio would not be
        # the one docs/benchmarks.md reports.
        raise AlprError(
            f"real frames folder {real} not found: set ALPR_DATASETS (or --real), or --real-frames 0 for synthetic only"
        )
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    result = run_bench(
        backends,
        Path(settings.data_dir) / "bench" / "models",
        synthetic=args.synthetic,
        real=args.real_frames,
        rounds=args.rounds,
        batch=args.batch,
        real_dir=real,
        progress=say,
    )
    result["default"] = configured
    if args.json:
        return _emit(result, True)
    print(
        f"{result['machine']}; {result['frames']} frames ({result['synthetic_frames']} synthetic, "
        f"{result['real_frames']} real), median of {result['rounds']} interleaved rounds, "
        f"load {result['load_average_1m_after']}"
    )
    for name, row in result["backends"].items():
        print(
            f"{name:36} {row['ms_per_frame']:7.1f} ms/frame {row['frames_per_s']:6.2f} frames/s "
            f"{row['frames_per_s_vs_peer']:5.2f}x the peer  peak RSS {row['peak_rss_mb']:.0f} MB"
        )
    return 0


def register(sub) -> None:
    bench = sub.add_parser(
        "bench",
        help="benchmarks: recognizer, ingest, occupancy, revenue, store, pipeline, models (figures with the machine)",
    )
    ops = bench.add_subparsers(dest="what", required=True)
    r = ops.add_parser("recognizer", help="frames/s of one replica on 1280x720 JPEG frames, real broker and models")
    r.add_argument("--frames", type=int, default=200)
    r.add_argument("--batch", type=int, default=16)
    r.add_argument("--device", default="auto")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=_recognizer)
    i = ops.add_parser("ingest", help="frames/s one ingest process publishes (1280x720 JPEG), and uploads/s")
    i.add_argument("--frames", type=int, default=2000, help="frames in the publish run")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(handler=_ingest)
    o = ops.add_parser("occupancy", help="throughput (reads/s) and read->event latency at a fixed rate, real broker")
    o.add_argument("--reads", type=int, default=20_000, help="reads in the throughput run")
    o.add_argument("--rate", type=float, default=200.0, help="reads/s of the latency run")
    o.add_argument("--latency-reads", type=int, default=3000, help="reads in the latency run")
    o.add_argument("--json", action="store_true", help="one JSON object on stdout")
    o.set_defaults(handler=_occupancy)
    v = ops.add_parser("revenue", help="passes/s and payments/s matched by one instance on the real broker")
    v.add_argument("--passes", type=int, default=20_000, help="entry+exit passes to publish")
    v.add_argument("--payments", type=int, default=5_000, help="payments to publish")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.set_defaults(handler=_revenue)
    p = ops.add_parser("pipeline", help="ingest -> recognizer -> occupancy -> revenue at a given rate: latencies")
    p.add_argument("--rate", type=float, default=8.0, help="frames per second offered to ingest")
    p.add_argument("--vehicles", type=int, default=40)
    p.add_argument("--replicas", type=int, default=1, help="recognizer replicas")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_pipeline)
    m = ops.add_parser(
        "models",
        help="ms/frame and peak RSS of each model backend, one replica process each, "
        "interleaved, against the peer's models in the same run",
    )
    m.add_argument(
        "--backends",
        default="default,project,fast-alpr",
        help="comma-separated: default (the configured pair), project, fast-alpr, fused, DETECTOR+READER",
    )
    m.add_argument("--synthetic", type=int, default=24, help="synthetic HARD frames (seed 9001)")
    m.add_argument("--real-frames", type=int, default=24, help="real frames (plates-ro-detect val; 0: synthetic only)")
    m.add_argument(
        "--real", default=None, help="folder of real 1280x720 JPEGs (default: <datasets>/plates-ro-detect/images/val)"
    )
    m.add_argument("--rounds", type=int, default=5)
    m.add_argument("--batch", type=int, default=8)
    m.add_argument("--json", action="store_true")
    m.set_defaults(handler=_models)
    s = ops.add_parser("store", help="ClickHouse batch insert rows/s (the configured store)")
    s.add_argument("--rows", type=int, default=500_000)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=_store)
