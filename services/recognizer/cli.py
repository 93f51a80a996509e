"""`alpr recognizer serve`: one replica of the recognizer consumer group."""

from __future__ import annotations


def _serve(args) -> int:
    from alpr import logs
    from alpr.settings import load_settings
    from services.recognizer.main import run
    from services.recognizer.settings import RecognizerSettings

    settings = load_settings(RecognizerSettings)
    logs.configure("recognizer", settings.log_level)
    return run(settings)


def register(sub) -> None:
    rec = sub.add_parser("recognizer", help="plate recognizer: a replica of the frames consumer group")
    ops = rec.add_subparsers(dest="op", required=True)
    ops.add_parser("serve", help="consume alpr.frames.v1, publish alpr.reads.v1").set_defaults(handler=_serve)
