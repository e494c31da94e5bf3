"""The per-call Vosk work, synchronous: runs only on the engine's worker threads.

One ``CallDecoder`` is used by one worker at a time (the stream's pump guarantees it);
a Vosk recogniser is not thread-safe, but different recognisers on one model are.
The recogniser is taken from the pool on the first audio (a silent call costs none)
and handed back, finalised, by ``release``.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from typing import Any

import vosk

from gateway.asr.audio import BlockResampler
from gateway.asr.gate import BYTES_PER_SAMPLE, GatedAudio
from gateway.asr.pool import PooledRecogniser, RecogniserPool
from gateway.asr.result import AsrResult, parse_final, parse_partial

AUDIOSOCKET_RATE = 8000
# Partial results are asked for at fixed points of the audio, never "whenever a job
# ends": Vosk's incremental lattice changes with each PartialResult() call, so asking at
# timing-dependent moments would make transcripts depend on machine load. 12 blocks of
# 20 ms = 240 ms, the step at which the Vosk decoder advances anyway.
PARTIAL_BLOCKS = 12


class CallDecoder:
    """Free-transcript recogniser (+ optional keyword-grammar spotter) for one call."""

    def __init__(
        self,
        pool: RecogniserPool,
        model: Any,
        model_rate: int,
        *,
        grammar: str | None = None,
        hint_phrases: dict[str, str] | None = None,
        in_rate: int = AUDIOSOCKET_RATE,
    ) -> None:
        self._pool = pool
        self._model = model
        self._rate = model_rate
        self._entry: PooledRecogniser | None = None
        self._base_seconds = 0.0
        self._grammar = grammar
        self._hint_rec: Any = None
        self._hint_phrases = hint_phrases or {}
        self._hints: list[str] = []
        self._resampler = BlockResampler(in_rate, model_rate)
        self._fed_samples = 0  # this call's audio fed to Vosk
        self._next_start: float | None = None  # call time at which the next chunk continues
        self._anchor_fed: list[float] = [0.0]
        self._anchor_call: list[float] = [0.0]
        self._speech_since_final = False
        self._dropped = False
        self._last_partial = ""
        self._blocks_since_final = 0
        self._utterance_start = 0.0

    # ---- called by the stream's pump, on a worker thread ----

    def process(self, chunks: Sequence[GatedAudio], dropped: bool) -> list[AsrResult]:
        """Decode gated audio: finals in order; only the latest partial is kept."""
        self._dropped = self._dropped or dropped
        results: list[AsrResult] = []
        for chunk in chunks:
            if chunk.audio:
                self._note_position(chunk)
                for block in self._resampler.push(chunk.audio):
                    self._keep(results, self._accept(block))
            if chunk.finalize and self._speech_since_final:
                self._keep(results, self._finalize())
        return results

    @staticmethod
    def _keep(results: list[AsrResult], result: AsrResult | None) -> None:
        if result is None:
            return
        if result.kind == "partial" and results and results[-1].kind == "partial":
            results[-1] = result  # a newer partial supersedes one nobody has seen yet
        else:
            results.append(result)

    def flush(self) -> list[AsrResult]:
        """End of call: decode what is buffered; the finals that produced (usually 0 or 1)."""
        results = [final for block in self._resampler.flush() if (final := self._accept(block))]
        last = self._finalize() if self._speech_since_final else None
        return [*results, last] if last is not None else results

    def release(self) -> None:
        """Finalise and return the recogniser to the pool (nothing of this call survives)."""
        entry, self._entry = self._entry, None
        self._hint_rec = None
        if entry is None:
            return
        if self._speech_since_final:
            entry.recogniser.FinalResult()  # makes Vosk rebuild its feature pipeline
        self._pool.release(entry)

    # ---- time: Vosk counts audio fed; the call counts audio received ----

    def _note_position(self, chunk: GatedAudio) -> None:
        if self._next_start is None or abs(chunk.start - self._next_start) > 1e-6:
            buffered = self._resampler.backlog_bytes // BYTES_PER_SAMPLE
            self._anchor_fed.append((self._fed_samples + buffered) / self._rate)
            self._anchor_call.append(chunk.start)
        self._next_start = chunk.start + len(chunk.audio) / BYTES_PER_SAMPLE / AUDIOSOCKET_RATE

    def to_call_time(self, vosk_seconds: float) -> float:
        return self._fed_to_call(vosk_seconds - self._base_seconds)

    def _fed_to_call(self, fed: float) -> float:
        index = max(bisect.bisect_right(self._anchor_fed, fed) - 1, 0)
        return self._anchor_call[index] + fed - self._anchor_fed[index]

    # ---- Vosk ----

    def _recogniser(self) -> Any:
        if self._entry is None:
            self._entry = self._pool.acquire()
            self._base_seconds = self._entry.fed_samples / self._rate
            if self._grammar:
                self._hint_rec = vosk.KaldiRecognizer(self._model, float(self._rate), self._grammar)
        return self._entry.recogniser

    def _accept(self, block: bytes) -> AsrResult | None:
        """Feed one block; a final at a Vosk endpoint, or a partial every PARTIAL_BLOCKS."""
        recogniser = self._recogniser()
        samples = len(block) // BYTES_PER_SAMPLE
        self._fed_samples += samples
        assert self._entry is not None
        self._entry.fed_samples += samples
        if not self._speech_since_final:
            self._utterance_start = self._fed_to_call((self._fed_samples - samples) / self._rate)
        self._speech_since_final = True
        self._blocks_since_final += 1
        if self._hint_rec is not None and self._hint_rec.AcceptWaveform(block):
            self._collect_hints(self._hint_rec.Result(), "text")
        if recogniser.AcceptWaveform(block):
            return self._emit_final(recogniser.Result())
        if self._blocks_since_final % PARTIAL_BLOCKS == 0:
            return self._partial()
        return None

    def _finalize(self) -> AsrResult | None:
        return self._emit_final(self._recogniser().FinalResult())

    def _emit_final(self, payload: str) -> AsrResult | None:
        if self._hint_rec is not None:
            self._collect_hints(self._hint_rec.FinalResult(), "text")
        result = parse_final(
            payload, self.to_call_time, dropped=self._dropped, hints=tuple(self._hints)
        )
        self._speech_since_final = False
        self._dropped = False
        self._hints = []
        self._last_partial = ""
        self._blocks_since_final = 0
        return result

    def _partial(self) -> AsrResult | None:
        if not self._speech_since_final:
            return None
        if self._hint_rec is not None:
            self._collect_hints(self._hint_rec.PartialResult(), "partial")
        payload = self._recogniser().PartialResult()
        text = str(json.loads(payload).get("partial", ""))
        if text == self._last_partial:
            return None
        self._last_partial = text
        return parse_partial(
            payload,
            self._utterance_start,
            self._fed_to_call(self._fed_samples / self._rate),
            dropped=self._dropped,
            hints=tuple(self._hints),
        )

    def _collect_hints(self, payload: str, key: str) -> None:
        spoken = " " + str(json.loads(payload).get(key, "")) + " "
        for grammar_form, phrase in self._hint_phrases.items():
            if f" {grammar_form} " in spoken and phrase not in self._hints:
                self._hints.append(phrase)
