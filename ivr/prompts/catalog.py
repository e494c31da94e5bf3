"""Prompt texts: which prompts exist and what each one says (configs/prompts/<lang>.yaml).

The dialog only ever names prompts by id; the texts live in one YAML file per language so
an engineer can change a sentence without touching code, then regenerate the audio with
``gateway prompts generate``.
"""

from __future__ import annotations

import re
import wave
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.configfile import load_model

PROMPT_ID = re.compile(r"^[a-z0-9_]{1,64}$")

# Prompt ids the dialog plays; every language file must define them.
GREETING = "greeting"
REPROMPT = "reprompt"
GREETING_KEYPAD = "greeting_keypad"  # ASR unavailable: keys only, everything goes to 110
CONFIRM_OPT_OUT = (
    "confirm_opt_out"  # played after confirm_<route>[_<category>]: "press 1 for police"
)
CONFIRM_OPT_IN = "confirm_opt_in"  # "say yes or press 2 to be transferred; press 1 for police"
TRANSFER_110 = "transfer_110"
TRANSFER_119 = "transfer_119"
TRANSFER_120 = "transfer_120"
CONFIRM_12345 = "confirm_12345"  # generic, when no category-specific prompt exists
CONFIRM_MEDIATION = "confirm_mediation"

REQUIRED_PROMPTS: tuple[str, ...] = (
    GREETING,
    REPROMPT,
    GREETING_KEYPAD,
    CONFIRM_OPT_OUT,
    CONFIRM_OPT_IN,
    CONFIRM_12345,
    CONFIRM_MEDIATION,
    TRANSFER_110,
    TRANSFER_119,
    TRANSFER_120,
)

MAX_PROMPT_CHARS = 80  # a prompt longer than this eats the caller's time budget


def confirmation_prompt_id(route: str, category: str) -> str:
    """``confirm_12345_move_car``: the category-specific confirmation for a diversion."""
    return f"confirm_{route}_{category}"


def transfer_prompt_id(route: str) -> str:
    return f"transfer_{route}"


class PromptFile(BaseModel):
    """One language's prompt texts and the synthetic voice used to generate placeholders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str = Field(min_length=2)
    voice: str = Field("cmn", min_length=1, description="espeak-ng voice for generated audio")
    speed: int = Field(250, ge=80, le=450, description="espeak-ng words per minute")
    pitch: int = Field(50, ge=0, le=99)
    prompts: dict[str, str]

    @field_validator("prompts")
    @classmethod
    def _valid_prompts(cls, value: dict[str, str]) -> dict[str, str]:
        problems = []
        for prompt_id, text in value.items():
            if not PROMPT_ID.match(prompt_id):
                problems.append(f"{prompt_id!r} is not a prompt id (a-z, 0-9, _)")
            elif not text.strip():
                problems.append(f"{prompt_id}: empty text")
            elif len(text) > MAX_PROMPT_CHARS:
                problems.append(f"{prompt_id}: {len(text)} characters, at most {MAX_PROMPT_CHARS}")
        missing = [p for p in REQUIRED_PROMPTS if p not in value]
        if missing:
            problems.append(f"missing required prompts: {', '.join(missing)}")
        if problems:
            raise ValueError("; ".join(problems))
        return value


class PromptCatalog(Mapping[str, str]):
    """Prompt id → text, read-only. ``catalog[id]`` raises KeyError for an unknown id.

    ``durations`` (seconds, optional) lets the dialog skip a confirmation that could not
    finish inside the time budget; without them it relies on the budget timer alone.
    """

    def __init__(
        self,
        texts: Mapping[str, str],
        language: str = "zh-CN",
        durations: Mapping[str, float] | None = None,
    ) -> None:
        self._texts = dict(texts)
        self.language = language
        self._durations = dict(durations or {})

    def duration(self, prompt_id: str) -> float | None:
        return self._durations.get(prompt_id)

    def with_durations(self, durations: Mapping[str, float]) -> PromptCatalog:
        return PromptCatalog(self._texts, self.language, durations)

    def __getitem__(self, prompt_id: str) -> str:
        return self._texts[prompt_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __repr__(self) -> str:
        return f"PromptCatalog({self.language}, {len(self)} prompts)"


def load_prompt_file(path: str | Path) -> PromptFile:
    """Read and validate a prompt texts file. Raises gateway.configfile.ConfigError."""
    return load_model(path, PromptFile)


def load_prompt_catalog(path: str | Path, audio_dir: str | Path | None = None) -> PromptCatalog:
    """The dialog's view of a prompt file: ids → texts. Raises ConfigError.

    With ``audio_dir``, each prompt's duration is read from its WAV header (missing or
    unreadable files simply have no duration; ``load_all_prompt_audio`` reports them).
    """
    prompt_file = load_prompt_file(path)
    durations = {}
    if audio_dir is not None:
        for prompt_id in prompt_file.prompts:
            seconds = _wav_seconds(Path(audio_dir) / f"{prompt_id}.wav")
            if seconds is not None:
                durations[prompt_id] = seconds
    return PromptCatalog(prompt_file.prompts, prompt_file.language, durations)


def _wav_seconds(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
    except (OSError, wave.Error, EOFError, ZeroDivisionError):
        return None
