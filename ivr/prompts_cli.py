"""`gateway prompts …`: regenerate and check the IVR's prompt audio."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.configfile import ConfigError
from ivr.prompts.audio import PromptAudioError, load_all_prompt_audio
from ivr.prompts.catalog import load_prompt_file
from ivr.prompts.synthesis import MANIFEST, SynthesisError, generate_prompts

ROOT = Path(__file__).resolve().parent.parent


def default_texts(language: str) -> Path:
    return ROOT / "configs" / "prompts" / f"{language}.yaml"


def default_out(language: str) -> Path:
    return ROOT / "ivr" / "prompts" / language


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prompts = subparsers.add_parser("prompts", help="IVR prompt audio")
    sub = prompts.add_subparsers(dest="prompts_command", required=True)

    generate = sub.add_parser(
        "generate", help="synthesise 8 kHz prompt WAVs from the prompt texts (needs espeak-ng)"
    )
    _common(generate)
    generate.set_defaults(func=run_generate)

    check = sub.add_parser("check", help="check every prompt has valid, up-to-date audio")
    _common(check)
    check.set_defaults(func=run_check)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", default="zh-CN", help="language (default zh-CN)")
    parser.add_argument(
        "--texts", type=Path, help="prompt texts YAML (configs/prompts/<lang>.yaml)"
    )
    parser.add_argument("--out", type=Path, help="audio directory (ivr/prompts/<lang>)")


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    return args.texts or default_texts(args.lang), args.out or default_out(args.lang)


def run_generate(args: argparse.Namespace) -> int:
    texts, out = _paths(args)
    try:
        generated = generate_prompts(load_prompt_file(texts), out)
    except ConfigError as exc:
        print(f"prompt texts invalid:\n{exc}", file=sys.stderr)
        return 2
    except SynthesisError as exc:
        print(f"cannot generate prompts: {exc}", file=sys.stderr)
        return 1
    total = sum(p.size for p in generated)
    for prompt in generated:
        print(f"{prompt.prompt_id:34} {prompt.duration_ms / 1000:5.2f} s {prompt.size:8d} B")
    print(f"{len(generated)} prompts, {total / 1024:.0f} KiB in {out}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    texts, out = _paths(args)
    try:
        prompt_file = load_prompt_file(texts)
        load_all_prompt_audio(out, prompt_file.prompts)
    except (ConfigError, PromptAudioError) as exc:
        print(exc, file=sys.stderr)
        return 2
    stale = stale_prompts(prompt_file.prompts, out / MANIFEST)
    if stale:
        print(
            f"audio older than its text (run `gateway prompts generate`): {', '.join(stale)}",
            file=sys.stderr,
        )
        return 1
    print(f"{len(prompt_file.prompts)} prompts OK in {out}")
    return 0


def stale_prompts(texts: dict[str, str], manifest_path: Path) -> list[str]:
    """Prompt ids whose text differs from the text the audio was generated from."""
    try:
        recorded = json.loads(manifest_path.read_text(encoding="utf-8")).get("prompts", {})
    except (OSError, ValueError):
        return sorted(texts)
    return sorted(p for p, text in texts.items() if recorded.get(p, {}).get("text") != text)
