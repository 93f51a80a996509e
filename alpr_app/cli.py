"""The one command line, `alpr`: a subcommand per service and per operation.

Each area registers its own subcommands through a `register(subparsers)` function in its
`cli` module. Registration must stay cheap (no torch or chDB imports at parse time): handlers
import what they need when they run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from alpr.errors import AlprError
from alpr.output import json_only_stdout

# Modules that contribute subcommands, in help order. A module that does not exist yet
# (a service still being built) is skipped, so the CLI works at every stage of the project.
COMMAND_MODULES = (
    "alpr.kafka.cli",
    "alpr.contracts.cli",
    "alpr_app.db_cli",
    "services.ingest.cli",
    "services.recognizer.cli",
    "alpr_app.models.cli",
    "services.occupancy.cli",
    "services.revenue.cli",
    "services.audit.cli",
    "alpr_app.bench.cli",
    "alpr_app.demo.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alpr", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # With --json, stdout carries the one result object and nothing a library prints.
        with json_only_stdout(bool(getattr(args, "json", False))):
            result = args.handler(args)
    except AlprError as err:
        # One line that names the problem; the stack trace helps nobody running a command.
        print(f"alpr {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
