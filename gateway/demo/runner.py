"""`gateway demo`: the whole gateway against the embedded PBX double, scripted callers.

No Asterisk, no Redis install needed: it starts an embedded Redis, the PBX double (a
real AMI server and AudioSocket client on loopback) and the gateway itself, places the
scripted calls concurrently, and prints what each caller said, what was decided and
why, where the call went and how long it took.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import time as dtime
from pathlib import Path
from typing import Any

from gateway.app import SpeechFactory
from gateway.call_session import CallInfo, HandOff
from gateway.demo.rig import Rig, rig_settings
from gateway.demo.scenarios import SCENARIOS, Scenario, caller_audio, silence
from gateway.demo.scripted_speech import MS_PER_CHAR, ScriptedSpeech
from gateway.embedded_redis import EmbeddedRedis
from gateway.logs import mask_number
from gateway.settings import Settings, load_settings, resolve_path

CALL_TIMEOUT = 60.0
DEMO_TIME = dtime(10, 0)  # mediation centres keep office hours; the demo runs in them


@dataclass
class DemoResult:
    scenario: Scenario
    contexts: list[str]
    dial: list[tuple[str, str]]
    outcome: HandOff | None
    info: CallInfo | None
    seconds: float


def choose_speech(settings: Settings) -> tuple[SpeechFactory, str, Any]:
    """Real Vosk when a Chinese model is installed and espeak-ng can voice the callers;
    otherwise scripted text after the audio stage (clearly labelled)."""
    try:
        from gateway.asr import SpeechEngine
        from ivr.prompts.synthesis import espeak_binary

        asr = settings.asr.model_copy(update={"model_dir": resolve_path(settings.asr.model_dir)})
        engine = SpeechEngine.load(asr, settings.ivr.language)
        espeak = espeak_binary()
    except Exception as exc:
        scripted = ScriptedSpeech(threshold=settings.asr.energy_threshold)

        def open_scripted(info: CallInfo) -> Any:
            return scripted.open_stream(info.call_id, caller=info.caller)

        label = (
            "NO CHINESE VOSK MODEL: the scripted words are fed to the same pipeline after "
            f"the audio stage (audio, barge-in, dialog, triage, routing are real). ({exc})"
        )
        return open_scripted, label, scripted

    def open_real(info: CallInfo) -> Any:
        return engine.open_stream(info.call_id)

    return (
        open_real,
        f"real Vosk ASR ({engine.model_path.name}), callers voiced by espeak-ng",
        (
            engine,
            espeak,
        ),
    )


def audio_for(scenario: Scenario, backend: Any) -> bytes:
    if not scenario.text:
        return silence(1.0)
    if isinstance(backend, ScriptedSpeech):
        backend.register(scenario.caller, scenario.text)
        return caller_audio(scenario, MS_PER_CHAR)
    from ivr.prompts.synthesis import synthesize

    _, espeak = backend
    speech = synthesize(espeak, scenario.text, voice="cmn", speed=175, pitch=50)
    return silence(scenario.speak_at) + speech + silence(2.0)


async def run_scenario(rig: Rig, scenario: Scenario, backend: Any) -> DemoResult:
    assert rig.double is not None
    started = time.monotonic()
    call = await rig.double.place_call(
        did=scenario.did,
        caller_id=scenario.caller,
        audio=audio_for(scenario, backend),
        dtmf_script=list(scenario.keys),
    )
    outcome: HandOff | None = None
    try:
        outcome = await rig.outcomes.wait_for(scenario.caller, CALL_TIMEOUT)
        await call.wait_for(lambda: bool(call.dial_attempts), 5.0, "dial")
    except TimeoutError:
        pass
    return DemoResult(
        scenario=scenario,
        contexts=list(call.context_history),
        dial=list(call.dial_attempts),
        outcome=outcome,
        info=rig.outcomes.infos.get(scenario.caller),
        seconds=time.monotonic() - started,
    )


def render(result: DemoResult, settings: Settings) -> str:
    s, o = result.scenario, result.outcome
    city_code = settings.city_for_did(s.did) or "?"
    city = settings.cities[city_code].name if city_code in settings.cities else "?"
    lines = [f"── {s.title}  ({city} {s.did}, caller {mask_number(s.caller)})"]
    said = s.text or "(silence)"
    if s.keys:
        said += "  + keys " + " ".join(d for _, d in s.keys)
    lines.append(f"   caller says : {said}")
    if o is None:
        lines.append("   RESULT      : no hand-off seen (the dialplan fail-safe has the call)")
        return "\n".join(lines)
    lines.append(f"   heard       : {o.transcript or '(nothing)'}")
    if o.destination is not None:
        d = o.destination
        lines.append(f"   decision    : {d.route} / {d.category}  — {o.reason}; {d.reason}")
        if o.evidence:
            lines.append(f"   why         : {o.evidence}")
        dial = ", ".join(f"{dest} → {status}" for dest, status in result.dial) or "-"
        lines.append(f"   went to     : {' → '.join(result.contexts)}  [{dial}]")
        lines.append(f"   ticket      : {o.ticket_id}")
    else:
        lines.append(f"   decision    : {o.reason} (fail-safe={o.failsafe}, callback={o.callback})")
    redirect = f", Redirect {o.redirect_latency * 1000:.1f} ms" if o.redirect_latency else ""
    lines.append(f"   timing      : decided {o.decided_after:.2f} s after answer{redirect}")
    expected = s.expect_route
    ok = o.destination is not None and o.destination.route == expected
    lines.append(f"   expected    : {expected}  {'✔' if ok else '✘'}")
    return "\n".join(lines)


async def run_demo(config: Path | None = None) -> int:
    base = load_settings(config)
    with EmbeddedRedis() as redis:
        settings = rig_settings(base, redis_url=redis.url)
        speech, label, backend = choose_speech(settings)
        print(f"speech: {label}", flush=True)
        print(f"local time: fixed at {DEMO_TIME:%H:%M} (trunk opening hours apply)\n", flush=True)
        async with Rig(
            settings, speech=speech, serve_http=False, local_time=lambda: DEMO_TIME
        ) as rig:
            results = await asyncio.gather(
                *(run_scenario(rig, scenario, backend) for scenario in SCENARIOS)
            )
        for result in results:
            print(render(result, settings), end="\n\n")
    good = sum(
        1
        for r in results
        if r.outcome
        and r.outcome.destination
        and r.outcome.destination.route == r.scenario.expect_route
    )
    print(f"{good}/{len(results)} calls went where expected; every other path ends at 110.")
    return 0 if good == len(results) else 1
