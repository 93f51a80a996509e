"""`alpr recognizer serve`: one replica of the recognizer consumer group."""

from __future__ import annotations


def _serve(args) -> int:
    from alpr import logs
    from alpr.runtime import Workers, run_service
    from alpr.settings import ensure_port_free, load_settings
    from services.recognizer.main import build_app, build_consumer, load_models
    from services.recognizer.settings import RecognizerSettings

    settings = load_settings(RecognizerSettings)
    logs.configure("recognizer", settings.log_level)
    ensure_port_free(settings.http_host, settings.http_port)
    workers = Workers()
    app = build_app(workers)
    recognizer = load_models(settings)
    workers.start("frames", build_consumer(settings, recognizer, settings.topic_prefix).run)
    run_service(app, workers, settings.http_host, settings.http_port, settings.log_level)
    return 0


def register(sub) -> None:
    rec = sub.add_parser("recognizer", help="plate recognizer: a replica of the frames consumer group")
    ops = rec.add_subparsers(dest="op", required=True)
    ops.add_parser("serve", help="consume alpr.frames.v1, publish alpr.reads.v1").set_defaults(handler=_serve)
