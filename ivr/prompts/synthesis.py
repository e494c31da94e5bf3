"""Placeholder prompt audio from text: espeak-ng → 8 kHz mono s16 WAV, byte-reproducible.

A deployment records real voices; these generated files only make the product work out
of the box. The same texts, voice, speed and espeak-ng version give the same bytes
(soxr resampling is deterministic), and ``manifest.json`` records all of them so a test
can tell when a text changed without the audio being regenerated.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from ivr.prompts.audio import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from ivr.prompts.catalog import PromptFile

MANIFEST = "manifest.json"
PEAK = 0.7 * 32767  # headroom: telephone codecs clip loud synthetic speech
SILENCE = 0.02 * 32767  # below this, leading/trailing samples are trimmed
PAD_SECONDS = 0.08  # kept around the speech after trimming
ESPEAK_TIMEOUT = 30.0

_ZH_PHONE_DIGITS = str.maketrans("0123456789", "零幺二三四五六七八九")
_ZH_DIGITS = str.maketrans("0123456789", "零一二三四五六七八九")
_DIGIT_RUN = re.compile(r"\d+")


class SynthesisError(Exception):
    """The synthesiser is missing or failed; the message says what to do."""


@dataclass(frozen=True)
class GeneratedPrompt:
    prompt_id: str
    path: Path
    duration_ms: int
    size: int


def spoken_text(text: str, language: str) -> str:
    """What the synthesiser reads: Chinese numbers read as callers expect.

    Runs of three or more digits are phone numbers, read digit by digit with 幺 for 1
    (110 → 幺幺零); shorter runs are key names read plainly (按1 → 按一).
    """
    if not language.lower().startswith(("zh", "cmn")):
        return text

    def read(match: re.Match[str]) -> str:
        digits = match.group(0)
        table = _ZH_PHONE_DIGITS if len(digits) >= 3 else _ZH_DIGITS
        return digits.translate(table)

    return _DIGIT_RUN.sub(read, text)


def espeak_binary() -> str:
    """Path of espeak-ng, or a SynthesisError saying how to get it."""
    found = shutil.which("espeak-ng")
    if not found:
        raise SynthesisError(
            "espeak-ng is not installed (not found on PATH). Install it "
            "(Debian/Ubuntu: apt-get install espeak-ng) or record the prompts yourself "
            "as 8 kHz mono 16-bit WAV files and point ivr.prompts_dir at them."
        )
    return found


def espeak_version(binary: str) -> str:
    result = _run([binary, "--version"])
    return result.stdout.decode("utf-8", "replace").strip().split("  ")[0]


def synthesize(binary: str, text: str, *, voice: str, speed: int, pitch: int) -> bytes:
    """Telephone PCM (s16le 8 kHz mono) for ``text``."""
    with tempfile.TemporaryDirectory(prefix="prompt-") as tmp:
        raw_path = Path(tmp) / "raw.wav"
        _run([binary, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw_path), text])
        with wave.open(str(raw_path), "rb") as raw:
            rate = raw.getframerate()
            if raw.getsampwidth() != 2 or raw.getnchannels() != 1:
                raise SynthesisError("espeak-ng produced an unexpected WAV format")
            samples = np.frombuffer(raw.readframes(raw.getnframes()), dtype="<i2")
    return to_telephone_pcm(samples, rate)


def to_telephone_pcm(samples: np.ndarray, rate: int) -> bytes:
    """Resample to 8 kHz, trim silence, normalise the peak; deterministic."""
    audio = samples.astype(np.float64)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ")
    loud = np.flatnonzero(np.abs(audio) > SILENCE)
    if loud.size == 0:
        raise SynthesisError("the synthesiser produced silence")
    pad = int(PAD_SECONDS * SAMPLE_RATE)
    audio = audio[max(0, loud[0] - pad) : loud[-1] + pad]
    audio = audio * (PEAK / np.max(np.abs(audio)))
    return np.round(audio).astype("<i2").tobytes()


def wav_bytes(pcm: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return buffer.getvalue()


def generate_prompts(prompt_file: PromptFile, out_dir: Path) -> list[GeneratedPrompt]:
    """Write ``<id>.wav`` for every prompt and ``manifest.json``; stale WAVs are removed."""
    binary = espeak_binary()
    version = espeak_version(binary)
    out_dir.mkdir(parents=True, exist_ok=True)
    generated: list[GeneratedPrompt] = []
    entries: dict[str, dict[str, object]] = {}
    for prompt_id, text in sorted(prompt_file.prompts.items()):
        spoken = spoken_text(text, prompt_file.language)
        pcm = synthesize(
            binary,
            spoken,
            voice=prompt_file.voice,
            speed=prompt_file.speed,
            pitch=prompt_file.pitch,
        )
        data = wav_bytes(pcm)
        path = out_dir / f"{prompt_id}.wav"
        path.write_bytes(data)
        duration_ms = len(pcm) * 1000 // (SAMPLE_RATE * SAMPLE_WIDTH)
        generated.append(GeneratedPrompt(prompt_id, path, duration_ms, len(data)))
        entries[prompt_id] = {
            "file": path.name,
            "text": text,
            "spoken": spoken,
            "duration_ms": duration_ms,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    for stale in out_dir.glob("*.wav"):
        if stale.stem not in prompt_file.prompts:
            stale.unlink()
    manifest = {
        "language": prompt_file.language,
        "generator": version,
        "voice": prompt_file.voice,
        "speed": prompt_file.speed,
        "pitch": prompt_file.pitch,
        "format": "WAV PCM s16le 8000 Hz mono",
        "prompts": entries,
    }
    (out_dir / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return generated


def _run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(command, capture_output=True, timeout=ESPEAK_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SynthesisError(f"{command[0]} failed to run: {exc}") from None
    if result.returncode != 0:
        error = result.stderr.decode("utf-8", "replace").strip()
        raise SynthesisError(f"{command[0]} exited with {result.returncode}: {error}")
    return result
