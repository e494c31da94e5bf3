"""A real Asterisk 22 with the shipped configs, real SIP callers and call-takers (SIPp).

One Asterisk and one set of call-takers serve the whole session; each test gets them
clean (no channels, every trunk answering, a fresh event log). Without the build these
tests skip with one line; on CI (CI=true) they fail instead — .ci/run builds it first.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from gateway.ami import events as ami
from gateway.app import Gateway
from gateway.demo.rig import Outcomes
from gateway.demo.scripted_speech import ScriptedSpeech
from gateway.embedded_redis import EmbeddedRedis
from gateway.settings import DEFAULT_CONFIG, Settings, load_settings
from tests.asterisk.asterisk_server import ENABLE_HINT, AsteriskServer, find_build
from tests.asterisk.config_tree import Ports, TreeSpec
from tests.asterisk.polling import poll_until
from tests.asterisk.ports import free_block, free_port
from tests.asterisk.sipp import SIPP, Caller, CallerScript, CallTakers
from tests.asterisk.watch import AmiWatch

MS_PER_CHAR = 40.0  # scripted words revealed per 40 ms of the caller's voice


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"real Asterisk required on CI: {why}")
    pytest.skip(ENABLE_HINT)


@pytest.fixture(scope="session")
def asterisk_build() -> Path:
    build = find_build()
    if build is None:
        _unavailable("no Asterisk build (./dev.sh asterisk)")
    if SIPP is None:
        _unavailable("sipp not installed (./dev.sh asterisk installs sip-tester)")
    assert build is not None
    return build


def _tone_wav(path: Path, seconds: float) -> Path:
    t = np.arange(int(seconds * 8000)) / 8000
    tone = (1500 * np.sin(2 * np.pi * 600 * t)).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(tone)
    return path


@dataclass
class Pbx:
    """The session's Asterisk, its far ends and the test's own AMI view."""

    server: AsteriskServer
    call_takers: CallTakers
    citizen: CallTakers  # the carrier trunk's far end: answers survey calls
    watch: AmiWatch
    secret: str
    workdir: Path

    @property
    def ports(self) -> Ports:
        return self.server.spec.ports

    async def call(self, number: str, did: str, script: CallerScript) -> Caller:
        caller = Caller(number, did, script, self.workdir)
        return await caller.dial(self.server.sip_address)

    async def qualified(self, trunk: str, status: str) -> None:
        """Ask Asterisk to qualify the trunk now; wait until its contact has ``status``."""
        await self.server.cli(f"pjsip qualify {trunk}")
        client = self.watch.client
        contact = await client.getvar(None, f"PJSIP_AOR({trunk},contact)")

        async def reported() -> bool:
            return await client.getvar(None, f"PJSIP_CONTACT({contact},status)") == status

        await poll_until(reported, 10, f"{trunk} {status}")

    async def reset(self) -> None:
        """No channels, every far end answering and known Reachable, a fresh event log."""
        await self.server.hang_up_everything()
        changed = [t for t, b in self.call_takers.behaviour.items() if b != "answer"]
        await self.call_takers.reset()
        await self.citizen.reset()
        for trunk in changed:
            await self.qualified(trunk, "Reachable")
        self.watch.new_test()


# Every test here runs on the session's event loop: the Asterisk, its far ends and the
# test's AMI session live across tests (test modules set the same loop_scope).
SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pbx_session(
    asterisk_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pbx]:
    workdir = tmp_path_factory.mktemp("asterisk")
    settings = load_settings(DEFAULT_CONFIG)
    call_takers = CallTakers(settings.trunks, workdir)
    citizen = CallTakers(["carrier-110"], workdir)
    await call_takers.start()
    await citizen.start()
    sounds = workdir / "sounds"
    sounds.mkdir()
    _tone_wav(sounds / "gw-survey-question.wav", 0.5)
    _tone_wav(sounds / "gw-survey-thanks.wav", 0.3)
    rtp = free_block(200)
    spec = TreeSpec(
        ports=Ports(
            sip=free_port(),
            ami=free_port(),
            rtp_start=rtp,
            rtp_end=rtp + 199,
            audiosocket=free_port(),
        ),
        trunk_addresses=call_takers.addresses,
        carrier_address=citizen.addresses["carrier-110"],
        ami_secret=secrets.token_hex(16),
        build=asterisk_build,
        globals_={
            "GW_SURVEY_PROMPT": str(sounds / "gw-survey-question"),
            "GW_SURVEY_THANKS": str(sounds / "gw-survey-thanks"),
        },
    )
    server = AsteriskServer(asterisk_build, workdir / "pbx", spec)
    (workdir / "pbx").mkdir()
    try:
        await server.start()
        watch = await AmiWatch(spec.ports.ami, "gateway", spec.ami_secret).start()
        pbx = Pbx(server, call_takers, citizen, watch, spec.ami_secret, workdir)
        # as after Asterisk's first qualify round (up to 30 s after start in production)
        for trunk in (*call_takers.addresses, "carrier-110"):
            await pbx.qualified(trunk, "Reachable")
        yield pbx
        await watch.close()
    finally:
        await server.stop()
        await call_takers.stop()
        await citizen.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def pbx(pbx_session: Pbx) -> AsyncIterator[Pbx]:
    await pbx_session.reset()
    yield pbx_session
    await pbx_session.server.hang_up_everything()


# ------------------------------------------------------------------ the gateway


@pytest.fixture(scope="session")
def tone_prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every prompt as a 0.4 s tone: a call's flow in seconds (prompt content is
    tested in tests/ivr)."""
    from ivr.prompts import load_prompt_file

    texts = load_prompt_file(DEFAULT_CONFIG.parent / "prompts" / "zh-CN.yaml")
    out = tmp_path_factory.mktemp("tone-prompts")
    for prompt_id in texts.prompts:
        _tone_wav(out / f"{prompt_id}.wav", 0.4)
    return out


def gateway_settings(pbx: Pbx, redis_url: str, prompts: Path, **ivr: Any) -> Settings:
    base = load_settings(DEFAULT_CONFIG)
    ivr.setdefault("confirm_window", 1.0)
    ivr.setdefault("greeting_timeout", 1.5)
    return base.model_copy(
        update={
            "ami": base.ami.model_copy(update={"host": "127.0.0.1", "port": pbx.ports.ami}),
            "audiosocket": base.audiosocket.model_copy(
                update={"host": "127.0.0.1", "port": pbx.ports.audiosocket}
            ),
            "redis": base.redis.model_copy(update={"url": redis_url, "spool_file": None}),
            "http": base.http.model_copy(update={"host": "127.0.0.1", "port": 0}),
            "ivr": base.ivr.model_copy(update={"prompts_dir": prompts, **ivr}),
        }
    )


@dataclass
class RunningGateway:
    gateway: Gateway
    speech: ScriptedSpeech
    outcomes: Outcomes

    def says(self, caller: str, words: str) -> None:
        self.speech.register(caller, words)


GatewayFactory = Callable[..., Awaitable[RunningGateway]]


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_redis(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def start_gateway(
    pbx: Pbx, redis_server: EmbeddedRedis, fresh_redis: aioredis.Redis, tone_prompts: Path
) -> AsyncIterator[GatewayFactory]:
    """The gateway in this process, on the real Asterisk (speech scripted after the
    audio stage, as in the demo: no Chinese Vosk model exists on these machines)."""
    started: list[Gateway] = []

    async def start(**ivr: Any) -> RunningGateway:
        settings = gateway_settings(pbx, redis_server.url, tone_prompts, **ivr)
        speech = ScriptedSpeech(threshold=settings.asr.energy_threshold, ms_per_char=MS_PER_CHAR)
        outcomes = Outcomes()
        gateway = Gateway(
            settings,
            ami_secret=pbx.secret,
            speech=lambda info: speech.open_stream(info.call_id, caller=info.caller),
            on_hand_off=outcomes.record,
            serve_http=False,
        )
        await gateway.start()
        started.append(gateway)
        await gateway.ami.wait_ready(timeout=10)
        await asyncio.wait_for(gateway.trunk_health_read.wait(), 10)
        return RunningGateway(gateway, speech, outcomes)

    yield start
    for gateway in started:
        await gateway.stop()


TIMINGS: dict[str, list[float]] = {}


def record_timing(what: str, seconds: float) -> None:
    """Scenario timings for README's table: bench/real_asterisk.py runs these tests with
    ASTERISK_TIMINGS=<file> and prints what they measured."""
    TIMINGS.setdefault(what, []).append(seconds)


@pytest.fixture(scope="session", autouse=True)
def _write_timings() -> Iterator[None]:
    yield
    target = os.environ.get("ASTERISK_TIMINGS")
    if target and TIMINGS:
        Path(target).write_text(json.dumps(TIMINGS, ensure_ascii=False, indent=1))


def is_user_event(name: str) -> Callable[[ami.AmiEvent], bool]:
    return lambda e: isinstance(e, ami.UserEvent) and e.user_event == name
