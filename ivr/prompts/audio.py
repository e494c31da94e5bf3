"""Prompt audio on disk: 8 kHz mono 16-bit PCM WAV files, one per prompt id.

The gateway plays prompts over AudioSocket, which carries signed linear 16-bit 8 kHz
mono, so the loader hands back exactly those bytes and refuses any other format with
an error that names the file and what is wrong — a deployment recording its own
prompts learns at start-up, not mid-call.
"""

from __future__ import annotations

import wave
from collections.abc import Iterable
from pathlib import Path

from ivr.prompts.catalog import PROMPT_ID

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2  # bytes: signed 16-bit little-endian
CHANNELS = 1


class PromptAudioError(Exception):
    """A prompt's audio file is missing or not 8 kHz mono s16 PCM WAV."""


def prompt_path(directory: str | Path, prompt_id: str) -> Path:
    if not PROMPT_ID.match(prompt_id):
        raise PromptAudioError(f"{prompt_id!r} is not a prompt id (a-z, 0-9, _)")
    return Path(directory) / f"{prompt_id}.wav"


def load_prompt_audio(directory: str | Path, prompt_id: str) -> bytes:
    """Raw PCM (s16le, 8 kHz, mono) of one prompt. Raises PromptAudioError."""
    path = prompt_path(directory, prompt_id)
    try:
        with wave.open(str(path), "rb") as wav:
            _check_format(path, wav)
            pcm = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise PromptAudioError(
            f"{path}: prompt audio missing (run `gateway prompts generate` or record it)"
        ) from None
    except (wave.Error, EOFError) as exc:
        raise PromptAudioError(f"{path}: not a PCM WAV file ({exc})") from None
    except OSError as exc:
        raise PromptAudioError(f"{path}: cannot read ({exc})") from None
    if not pcm or len(pcm) % SAMPLE_WIDTH:
        raise PromptAudioError(f"{path}: no audio or a truncated sample ({len(pcm)} bytes)")
    return pcm


def load_all_prompt_audio(directory: str | Path, prompt_ids: Iterable[str]) -> dict[str, bytes]:
    """Every prompt's PCM, checked up front; one error lists every bad file."""
    audio: dict[str, bytes] = {}
    problems: list[str] = []
    for prompt_id in prompt_ids:
        try:
            audio[prompt_id] = load_prompt_audio(directory, prompt_id)
        except PromptAudioError as exc:
            problems.append(str(exc))
    if problems:
        raise PromptAudioError("\n".join(problems))
    return audio


def _check_format(path: Path, wav: wave.Wave_read) -> None:
    found = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
    wanted = (CHANNELS, SAMPLE_WIDTH, SAMPLE_RATE)
    if found != wanted:
        raise PromptAudioError(
            f"{path}: {found[0]} channel(s), {found[1] * 8}-bit, {found[2]} Hz; "
            "prompts must be mono 16-bit 8000 Hz PCM "
            "(convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav)"
        )
