"""End-to-end rig: the real gateway, the PBX double, real Redis, real TCP on loopback.

Prompts are replaced by short tones so that a call's flow (greeting, confirmation,
window) runs in seconds; the prompts' own content is tested in tests/ivr.
"""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.demo.rig import Rig, rig_settings
from gateway.demo.scripted_speech import ScriptedSpeech
from gateway.embedded_redis import EmbeddedRedis
from gateway.settings import PROJECT_ROOT, Settings, load_settings
from ivr.prompts import load_prompt_file

MS_PER_CHAR = 40.0
NOON = time(12, 0)  # trunk hours are part of routing: tests fix the local time


@pytest.fixture(scope="session")
def short_prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = load_prompt_file(PROJECT_ROOT / "configs/prompts/zh-CN.yaml")
    out = tmp_path_factory.mktemp("prompts")
    t = np.arange(int(0.4 * 8000)) / 8000
    tone = (1500 * np.sin(2 * np.pi * 600 * t)).astype("<i2").tobytes()
    for prompt_id in texts.prompts:
        with wave.open(str(out / f"{prompt_id}.wav"), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(tone)
    return out


@pytest.fixture
def e2e_settings(redis_server: EmbeddedRedis, short_prompts: Path) -> Settings:
    return rig_settings(
        load_settings(),
        redis_url=redis_server.url,
        prompts_dir=short_prompts,
        confirm_window=1.0,
        greeting_timeout=1.5,
        time_budget=20.0,
    )


RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(e2e_settings: Settings, redis_client: Any) -> AsyncIterator[RigFactory]:
    rigs: list[Rig] = []

    async def make(
        *, scripts: dict[str, str] | None = None, speech: Any = "scripted", **kw: Any
    ) -> Rig:
        settings = kw.pop("settings", e2e_settings)
        factory = speech
        if speech == "scripted":
            engine = ScriptedSpeech(
                threshold=settings.asr.energy_threshold, ms_per_char=MS_PER_CHAR
            )
            for caller, text in (scripts or {}).items():
                engine.register(caller, text)

            def factory(info: Any) -> Any:
                return engine.open_stream(info.call_id, caller=info.caller)

        kw.setdefault("local_time", lambda: NOON)
        rig = Rig(settings, speech=factory, **kw)
        rigs.append(rig)
        return await rig.start()

    yield make
    for rig in rigs:
        await rig.stop()
