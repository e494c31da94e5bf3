"""Whole calls through the gateway and the PBX double on loopback.

Run: .venv/bin/python -m bench.bench_calls [--quick]

Part 1, latency (scripted words after the audio stage, the shipped prompts and timings):
  end of the caller's description → Redirect, for calls kept on 110 (no confirmation)
  and for diverted calls (confirmation prompt + opt-out window included by design);
  emergency word spoken → Redirect (acted on from the partial text).
Part 2, capacity with real ASR on every call (the Korean small Vosk model, the only one
  installable here): N concurrent callers each streaming 9.5 s of speech at real-time
  pace; process CPU, event-loop lag p50/p99, AMI Redirect round trip, calls completed.
The gateway and the double share one process here: CPU and lag include the double's
own work (AMI server, call simulation, 20 ms audio streaming), so they are upper bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import time
import wave
from datetime import time as dtime
from pathlib import Path
from typing import Any

from gateway.demo.rig import Rig, rig_settings
from gateway.demo.scenarios import silence, voice_like
from gateway.demo.scripted_speech import MS_PER_CHAR, ScriptedSpeech
from gateway.embedded_redis import EmbeddedRedis
from gateway.logs import configure_logging
from gateway.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
KO_WAV = ROOT / "tests" / "asr" / "data" / "fire_ko.wav"
NOON = dtime(12, 0)

DOUBT = "我也说不太清楚，就是家里有点事情，想问问你们这边能不能帮忙看一下"
DIVERT = "有辆白色小车堵在我家车库门口，打车上电话没人接，麻烦叫他挪一下"
KNIFE = "救命，有人拿刀在我家门口砍门，我现在躲在卫生间里面不敢出去"
SPEAK_AT = 0.5


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def caller_audio(text: str) -> bytes:
    seconds = len(text) * MS_PER_CHAR / 1000 + 0.3
    return silence(SPEAK_AT) + voice_like(seconds) + silence(3.0)


async def redirect_time(rig: Rig, call: Any) -> float:
    assert rig.double is not None
    await call.wait_for(
        lambda: any(c.startswith("route-") for c in call.context_history), 60, "routed"
    )
    for action in reversed(rig.double.ami_actions):
        if action.name == "Redirect" and dict(action.pairs).get("Channel") == call.name:
            return float(action.at)
    raise RuntimeError("no Redirect seen")


async def latency_part(settings: Settings, rounds: int) -> list[tuple[str, list[float]]]:
    speech = ScriptedSpeech(threshold=settings.asr.energy_threshold)
    rows: dict[str, list[float]] = {
        "emergency word in a partial → Redirect (gateway's share)": [],
        "final text, kept on 110 → Redirect (gateway's share)": [],
        "end of description, diverted → Redirect (confirmation + window)": [],
    }
    labels = list(rows)
    async with Rig(
        settings,
        speech=lambda i: speech.open_stream(i.call_id, caller=i.caller),
        local_time=lambda: NOON,
    ) as rig:
        assert rig.double is not None
        n = 0
        for _ in range(rounds):
            for label, text in ((labels[0], KNIFE), (labels[1], DOUBT), (labels[2], DIVERT)):
                n += 1
                caller = f"1370000{n:04d}"
                speech.register(caller, text)
                call = await rig.double.place_call(
                    did="0791110", caller_id=caller, audio=caller_audio(text)
                )
                await call.wait_for_leg(5)
                leg_up = time.monotonic()
                redirected = await redirect_time(rig, call)
                outcome = await rig.outcomes.wait_for(caller, 30)
                if label == labels[2]:
                    spoken = leg_up + SPEAK_AT + len(text) * MS_PER_CHAR / 1000
                    rows[label].append(redirected - spoken)
                elif outcome.event_to_redirect is not None:
                    rows[label].append(outcome.event_to_redirect)
    return list(rows.items())


def ko_speech() -> bytes:
    with wave.open(str(KO_WAV)) as wav:
        return wav.readframes(wav.getnframes())


async def capacity_row(
    settings: Settings, engine: Any, calls: int, *, audio: bytes | None = None
) -> dict[str, Any]:
    """``engine``: a SpeechEngine (real Vosk) or a ScriptedSpeech (gateway overhead only)."""
    speech = audio or silence(SPEAK_AT) + ko_speech() * 4 + silence(3.0)  # ~9.5 s of talk

    def open_stream(info: Any) -> Any:
        if isinstance(engine, ScriptedSpeech):
            return engine.open_stream(info.call_id, caller=info.caller)
        return engine.open_stream(info.call_id)

    async with Rig(settings, speech=open_stream, local_time=lambda: NOON) as rig:
        assert rig.double is not None and rig.gateway is not None
        rig.gateway.loop_lag.reset()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.monotonic()
        placed = await asyncio.gather(
            *(
                rig.double.place_call(did="0791110", caller_id=f"1360000{n:04d}", audio=speech)
                for n in range(calls)
            )
        )
        done = await asyncio.gather(
            *(rig.outcomes.wait_for(f"1360000{n:04d}", 120) for n in range(calls)),
            return_exceptions=True,
        )
        wall = time.monotonic() - wall0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        ok = [d for d in done if not isinstance(d, BaseException) and d.destination is not None]
        heard = sum(1 for d in ok if d.transcript.strip())
        redirect_ms = [d.redirect_latency * 1000 for d in ok if d.redirect_latency]
        cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / wall
        durations = [d.decided_after for d in ok]
        del placed
        return {
            "calls": calls,
            "completed": len(ok),
            "transcribed": heard,
            "cpu_cores": cpu,
            "lag_p50_ms": rig.gateway.loop_lag.percentile(50) * 1000,
            "lag_p99_ms": rig.gateway.loop_lag.percentile(99) * 1000,
            "redirect_p50_ms": pct(redirect_ms, 50),
            "ivr_seconds": statistics.mean(durations) if durations else float("nan"),
        }


async def main(quick: bool) -> None:
    configure_logging(json=True, level="error")
    base = load_settings()
    with EmbeddedRedis() as redis:
        settings = rig_settings(base, redis_url=redis.url)
        print(f"# bench_calls on {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
        rounds = 3 if quick else 8
        print(f"Latency, {rounds} calls each (milliseconds)\n")
        print("| path | p50 | p95 | max |")
        print("|---|---|---|---|")
        for label, values in await latency_part(settings, rounds):
            ms = [v * 1000 for v in values]
            print(f"| {label} | {pct(ms, 50):.1f} | {pct(ms, 95):.1f} | {max(ms):.1f} |")
        print("\nGateway overhead without ASR (scripted words, 9 s descriptions → 110)\n")
        print_capacity_header()
        scripted = ScriptedSpeech(threshold=settings.asr.energy_threshold)
        long_doubt = DOUBT * 2
        for n in range(200):
            scripted.register(f"1360000{n:04d}", long_doubt)
        for size in (25, 50) if quick else (25, 50, 100):
            row = await capacity_row(settings, scripted, size, audio=caller_audio(long_doubt))
            print_capacity_row(row)
        from gateway.asr import SpeechEngine
        from tests.asr.conftest import ko_model_dir

        engine = SpeechEngine.from_path(
            ko_model_dir(), settings.asr.model_copy(update={"max_streams": 64})
        )
        sizes = (4, 12) if quick else (4, 8, 16, 24)
        print("\nCapacity with real Vosk on every call (ko small model)\n")
        print_capacity_header()
        for size in sizes:
            print_capacity_row(await capacity_row(settings, engine, size))
        await engine.close()


def print_capacity_header() -> None:
    print(
        "| concurrent calls | completed | transcribed | CPU cores | loop lag p50 / p99 ms "
        "| Redirect p50 ms | mean IVR s | calls/hour at this load |"
    )
    print("|---|---|---|---|---|---|---|---|")


def print_capacity_row(row: dict[str, Any]) -> None:
    per_hour = row["completed"] * 3600 / row["ivr_seconds"] if row["ivr_seconds"] else 0
    print(
        f"| {row['calls']} | {row['completed']} | {row['transcribed']} "
        f"| {row['cpu_cores']:.2f} | {row['lag_p50_ms']:.1f} / {row['lag_p99_ms']:.1f} "
        f"| {row['redirect_p50_ms']:.1f} | {row['ivr_seconds']:.1f} | {per_hour:.0f} |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
