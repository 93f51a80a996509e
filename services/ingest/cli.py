"""`alpr ingest ...` and `alpr demo-footage`: run ingest, replay a file, make tokens, render footage (its benchmark: `alpr bench ingest`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alpr.errors import AlprError, ConfigError
from alpr.output import emit


class ReplayError(AlprError):
    """A replay could not read its file or did not get every frame acknowledged."""


def _settings():
    from alpr.settings import load_settings
    from services.ingest.settings import IngestSettings

    return load_settings(IngestSettings)


def _time(value: str) -> datetime:
    from alpr.cameras import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise ConfigError(f"{value!r} is not an RFC 3339 time with a zone (e.g. 2026-11-26T06:00:00Z)") from None


def _serve(args) -> int:
    from alpr import logs
    from services.ingest.main import run

    settings = _settings()
    logs.configure("ingest", settings.log_level)
    return run(settings)


def _replay(args) -> int:
    import threading

    from alpr import logs
    from alpr.cameras import load_registry
    from services.ingest.main import make_feed
    from services.ingest.publisher import FRAMES_TOPIC, Publisher

    settings = _settings()
    logs.configure("ingest", settings.log_level)
    registry = load_registry(settings.cameras_file)
    camera = registry.camera(args.camera)
    if camera is None:
        raise ConfigError(f"camera {args.camera} is not in {settings.cameras_file}")
    if args.file:
        camera = camera.model_copy(update={"source": str(Path(args.file).resolve())})
    if not camera.source or camera.is_stream:
        raise ConfigError(f"camera {camera.camera_id} has no file source; pass --file PATH")
    prefix = settings.topic_prefix if args.topic_prefix is None else args.topic_prefix
    publisher = Publisher(
        settings.kafka_bootstrap,
        f"{prefix}{FRAMES_TOPIC}",
        queue_frames=settings.queue_frames,
        delivery_timeout_s=settings.delivery_timeout_s,
        replay_delivery_timeout_s=settings.replay_delivery_timeout_s,
        client_id="ingest-replay",
    ).start()
    feed = make_feed(
        settings,
        registry,
        camera,
        publisher,
        select=not args.all_frames,
        start=_time(args.start) if args.start else None,
    )
    try:
        feed.run(threading.Event())
        publisher.wait_idle(settings.delivery_timeout_s + 5)
    finally:
        undelivered = publisher.close(settings.delivery_timeout_s)
    counts = {
        k: feed.tally.get(k, 0)
        for k in ("seen", "selected", "skipped_fps", "skipped_still", "published", "failed", "error")
    }
    counts["undelivered"] = undelivered
    emit({"camera": camera.camera_id, "topic": publisher.topic, **counts})
    if feed.status.state == "failed":
        raise ReplayError(feed.status.last_error or "the file could not be read")
    if counts["failed"] or undelivered:
        raise ReplayError(f"{counts['failed'] + undelivered} frames were not acknowledged by Kafka")
    return 0


def _camera_token(args) -> int:
    from alpr.cameras import new_token

    token, digest = new_token()
    if args.json:
        emit({"token": token, "upload_token_sha256": digest})
    else:
        print(f"token (give to the camera):   {token}\nupload_token_sha256 (YAML):  {digest}")
    return 0


def _demo_footage(args) -> int:
    from services.ingest.footage import render_footage

    footage = render_footage(
        Path(args.out),
        seed=args.seed,
        vehicles=args.vehicles,
        minutes=args.minutes,
        fps=args.fps,
        width=args.width,
        height=args.height,
        start=_time(args.start),
    )
    emit(
        {
            "videos": [str(p) for p in footage.videos],
            "ground_truth": str(footage.ground_truth),
            "passes": footage.passes,
            "frames": footage.frames,
        }
    )
    return 0


def register(sub) -> None:
    ingest = sub.add_parser("ingest", help="frames in: camera feeds, uploads, replays -> alpr.frames.v1")
    ops = ingest.add_subparsers(dest="op", required=True)
    ops.add_parser("serve", help="run the registry's camera feeds and the upload API (POST /v1/frames)").set_defaults(
        handler=_serve
    )

    replay = ops.add_parser("replay", help="publish one camera's video file or image folder once, print counts")
    replay.add_argument("--camera", required=True, help="camera id from the registry (ALPR_CAMERAS_FILE)")
    replay.add_argument("--file", help="video file or image folder (default: the camera's source)")
    replay.add_argument(
        "--start", help="capture time of the first frame, RFC 3339 (default: camera replay_start, else now)"
    )
    replay.add_argument("--all-frames", action="store_true", help="skip the fps cap and motion gate")
    replay.add_argument(
        "--topic-prefix", default=None, help="prefix before alpr.frames.v1 (default: ALPR_TOPIC_PREFIX)"
    )
    replay.set_defaults(handler=_replay)

    token = ops.add_parser("camera-token", help="make an upload token for a camera and the digest for the YAML")
    token.add_argument("--json", action="store_true")
    token.set_defaults(handler=_camera_token)

    footage = sub.add_parser("demo-footage", help="render synthetic garage-lane videos with ground truth")
    footage.add_argument("--out", required=True, help="directory for the mp4 files and ground_truth.jsonl")
    footage.add_argument("--seed", type=int, default=7)
    footage.add_argument("--vehicles", type=int, default=30)
    footage.add_argument("--minutes", type=float, default=4.0, help="length of each video")
    footage.add_argument("--fps", type=float, default=4.0)
    footage.add_argument("--width", type=int, default=1280)
    footage.add_argument("--height", type=int, default=720)
    footage.add_argument(
        "--start",
        default="2026-11-26T06:00:00Z",
        help="captured_at of frame 0 in the ground truth (use it as the cameras' replay_start)",
    )
    footage.set_defaults(handler=_demo_footage)
