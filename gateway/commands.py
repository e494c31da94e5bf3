"""Core sub-commands: run, demo, check-config."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.configfile import ConfigError
from gateway.settings import DEFAULT_CONFIG, Settings, load_settings, resolve_path


def _load_everything(path: str | Path) -> Settings:
    """The main config plus every file it points at (triage rules, prompts)."""
    from ivr.prompts import load_all_prompt_audio, load_prompt_catalog
    from ivr.triage import load_triage

    settings = load_settings(path)
    for rules in settings.triage.rules.values():
        load_triage(resolve_path(rules))
    catalog = load_prompt_catalog(
        resolve_path(settings.ivr.prompts_file), resolve_path(settings.ivr.prompts_dir)
    )
    load_all_prompt_audio(resolve_path(settings.ivr.prompts_dir), catalog)
    return settings


def _load_or_report(path: str | Path) -> Settings | None:
    """Load everything, or print each problem (file:line: field: reason) and return None."""
    from ivr.prompts import PromptAudioError

    try:
        return _load_everything(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
    except PromptAudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
    return None


def receiver_warnings(settings: Settings) -> list[str]:
    """Diverted routes whose tickets have no webhook receiver (they would dead-letter)."""
    targets = settings.webhooks.targets
    missing = []
    for code, city in settings.cities.items():
        for route in ("12345", "mediation"):
            if route in city.destinations and not (
                f"{code}/{route}" in targets or f"*/{route}" in targets
            ):
                missing.append(f"{code}/{route}")
    if not missing:
        return []
    return [
        f"no webhook receiver for {len(missing)} city/route pairs (tickets would wait on "
        f"the dead-letter list): {', '.join(missing[:6])}{' …' if len(missing) > 6 else ''}"
    ]


def check_config(args: argparse.Namespace) -> int:
    settings = _load_or_report(args.path)
    if settings is None:
        return 1
    for warning in receiver_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"ok: {args.path}: {len(settings.cities)} cities, {len(settings.trunks)} trunks")
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve calls: AMI + AudioSocket + web. SIGTERM/SIGINT stop it cleanly."""
    from gateway.app import Gateway, run_forever
    from gateway.asr import SpeechEngine
    from gateway.logs import get_logger

    log = get_logger("gateway.run")
    settings = _load_or_report(args.config)
    if settings is None:
        return 1
    secret = settings.ami.secret.resolve()
    if not secret:
        print(f"error: AMI secret not found ({settings.ami.secret.describe()})", file=sys.stderr)
        return 1
    speech = None
    if args.scripted_speech:
        speech = _scripted_speech(Path(args.scripted_speech), settings)
        log.warning("scripted speech: callers' words come from a file, not from audio")
    elif settings.asr.enabled:
        try:
            asr = settings.asr.model_copy(
                update={"model_dir": resolve_path(settings.asr.model_dir)}
            )
            engine = SpeechEngine.load(asr, settings.ivr.language)
            speech = lambda info: engine.open_stream(info.call_id)  # noqa: E731
        except Exception as exc:
            # No model: calls still flow (keypad path, everything else to 110).
            log.error("speech recognition unavailable; keypad path for every call", error=str(exc))

    async def reload_config(gateway: Gateway) -> None:
        """SIGHUP: validate the file again and apply it to new calls; a bad file changes
        nothing (the error is logged)."""
        try:
            settings = await asyncio.to_thread(load_settings, args.config)
            await gateway.reload(settings)
        except Exception as exc:
            log.error("config reload refused; the running config stays", error=str(exc))

    reloads: set[asyncio.Task[None]] = set()

    async def main() -> None:
        gateway = Gateway(settings, ami_secret=secret, speech=speech)
        task = asyncio.create_task(run_forever(gateway))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)

        def on_sighup() -> None:
            task = asyncio.create_task(reload_config(gateway))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_sighup)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    return 0


def _scripted_speech(path: Path, settings: Settings) -> Callable[[Any], Any]:
    """Words per caller number from a JSON file, revealed as the caller's audio is heard
    (as the demo does): an end-to-end check of a deployment with no speech model."""
    import json

    from gateway.demo.scripted_speech import ScriptedSpeech

    engine = ScriptedSpeech(threshold=settings.asr.energy_threshold)
    for caller, words in json.loads(path.read_text(encoding="utf-8")).items():
        engine.register(str(caller), str(words))
    return lambda info: engine.open_stream(info.call_id, caller=info.caller)


def demo(args: argparse.Namespace) -> int:
    from gateway.demo.runner import run_demo
    from gateway.logs import configure_logging

    if args.log_level == "info":  # the demo's own report is the output; logs only on trouble
        configure_logging(json=True if args.log_json else None, level="warning")

    return asyncio.run(run_demo(Path(args.config) if args.config else None))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-config", help="validate a config without starting anything")
    p.add_argument("path", nargs="?", default=str(DEFAULT_CONFIG))
    p.set_defaults(func=check_config)

    p = sub.add_parser("run", help="serve calls from a real Asterisk")
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument(
        "--scripted-speech",
        metavar="JSON",
        help="callers' words from a file {caller number: words} instead of a speech model "
        "(an end-to-end check of a deployment; every call is logged as scripted)",
    )
    p.set_defaults(func=run)

    p = sub.add_parser("demo", help="the gateway against the embedded PBX double")
    p.add_argument("--config", default=None)
    p.set_defaults(func=demo)
