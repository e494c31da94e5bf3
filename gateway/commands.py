"""Core sub-commands: check-config (more are added by the composition root)."""

from __future__ import annotations

import argparse
import sys

from gateway.configfile import ConfigError
from gateway.settings import DEFAULT_CONFIG, load_settings


def check_config(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    print(f"ok: {args.path}: {len(settings.cities)} cities, {len(settings.trunks)} trunks")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-config", help="validate a config without starting anything")
    p.add_argument("path", nargs="?", default=str(DEFAULT_CONFIG))
    p.set_defaults(func=check_config)
