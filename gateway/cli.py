"""The `gateway` command. Each area registers its own sub-commands here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules exposing ``register(subparsers)``; each adds its sub-commands and sets
# ``func`` (args -> exit code) on them. Kept as names so a broken optional area
# does not stop the others from working.
COMMAND_MODULES = (
    "gateway.commands",
    "ivr.triage.cli",
    "gateway.asr.cli",
    "ivr.prompts_cli",
    "gateway.tickets.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    parser.add_argument("--log-json", action="store_true", help="JSON logs even on a terminal")
    parser.add_argument("--log-level", default="info")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from gateway.logs import configure_logging

    configure_logging(json=True if args.log_json else None, level=args.log_level)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
