"""`gateway models list | pull NAME | verify NAME`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.asr import models
from gateway.asr.errors import AsrError


def _model_dir(args: argparse.Namespace) -> Path:
    if args.dir is not None:
        return Path(args.dir)
    if args.config is not None:
        from gateway.settings import load_settings

        return load_settings(args.config).asr.model_dir
    from gateway.settings import AsrSettings

    return AsrSettings().model_dir


def list_models(args: argparse.Namespace) -> int:
    model_dir = _model_dir(args)
    installed = {p.name for p in models.installed_models(model_dir)}
    print(f"models in {model_dir.resolve()}")
    print(f"{'name':32} {'installed':9} {'size':>8} {'grammar':7} note")
    for name in sorted(installed | set(models.CATALOGUE)):
        entry = models.CATALOGUE.get(name)
        size = f"{entry.approx_mb} MB" if entry else "?"
        if name in installed:
            grammar = models.supports_runtime_grammar(model_dir / name)
        else:
            grammar = bool(entry and entry.runtime_grammar)
        default = " (default)" if name == models.DEFAULT_MODEL else ""
        note = (entry.note if entry else "") + default
        print(
            f"{name:32} {'yes' if name in installed else 'no':9} {size:>8} "
            f"{'yes' if grammar else 'no':7} {note}"
        )
    return 0


def pull_model(args: argparse.Namespace) -> int:
    model_dir = _model_dir(args)
    bar = models.ProgressBar(args.name)
    try:
        path = asyncio.run(
            models.pull(args.name, model_dir, base=args.base_url, force=args.force, progress=bar)
        )
    except (AsrError, OSError) as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bar.close()
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    bar.close()
    print(f"ok: {args.name} installed at {path}")
    return 0


def verify_model(args: argparse.Namespace) -> int:
    try:
        report = models.verify(args.name, _model_dir(args))
    except AsrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"ok: {report.name} loads ({report.load_seconds:.1f} s) from {report.path}; "
        f"{report.sample_rate} Hz; runtime grammar {'yes' if report.runtime_grammar else 'no'}"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("models", help="list, download and verify Vosk speech models")

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)
    actions = parser.add_subparsers(dest="models_command")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dir", help="model directory (default: asr.model_dir of the config)")
        p.add_argument("--config", help="gateway config to read asr.model_dir from")

    p = actions.add_parser("list", help="installed and known models")
    common(p)
    p.set_defaults(func=list_models)

    p = actions.add_parser("pull", help="download, check and install a model")
    p.add_argument("name", nargs="?", default=models.DEFAULT_MODEL)
    p.add_argument("--force", action="store_true", help="replace an installed model")
    p.add_argument(
        "--base-url",
        default=None,
        help=f"where NAME.zip is fetched (default ${models.BASE_URL_ENV} or the official site)",
    )
    common(p)
    p.set_defaults(func=pull_model)

    p = actions.add_parser("verify", help="check that an installed model loads")
    p.add_argument("name", nargs="?", default=models.DEFAULT_MODEL)
    common(p)
    p.set_defaults(func=verify_model)
