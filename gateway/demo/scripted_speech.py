"""Scripted speech for the demo when no Chinese Vosk model is installed.

It stands in for the recogniser *after* the audio stage: the caller's audio still
flows through AudioSocket, the energy detector and the session, but the words come
from the scenario's script, revealed as the caller's audio is heard (one character
per ``ms_per_char`` of voiced audio) and finalised after trailing silence — so
partial-result behaviour (emergency words acted on mid-sentence) is the same.
The demo labels every such call clearly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway.vad import frame_rms

MS_PER_CHAR = 180.0
FINAL_SILENCE_MS = 800.0


@dataclass(frozen=True)
class ScriptedResult:
    kind: str  # "partial" | "final"
    text: str
    confidence: float
    dropped_audio: bool = False


class ScriptedStream:
    def __init__(
        self,
        text: str,
        *,
        threshold: float,
        confidence: float = 0.9,
        ms_per_char: float = MS_PER_CHAR,
    ) -> None:
        self._text = text
        self._ms_per_char = ms_per_char
        self._threshold = threshold
        self._confidence = confidence
        self._voiced_ms = 0.0
        self._silence_ms = 0.0
        self._shown = 0
        self._finalised = 0
        self._results: asyncio.Queue[ScriptedResult | None] = asyncio.Queue()

    def feed(self, pcm: bytes) -> None:
        ms = len(pcm) / 16.0
        if frame_rms(pcm) >= self._threshold:
            self._voiced_ms += ms
            self._silence_ms = 0.0
            shown = min(len(self._text), int(self._voiced_ms / self._ms_per_char))
            if shown > self._shown:
                self._shown = shown
                self._results.put_nowait(
                    ScriptedResult("partial", self._text[self._finalised : shown], 0.0)
                )
            return
        self._silence_ms += ms
        if self._silence_ms >= FINAL_SILENCE_MS and self._shown > self._finalised:
            self._emit_final()

    def _emit_final(self) -> None:
        text = self._text[self._finalised : self._shown]
        self._finalised = self._shown
        self._results.put_nowait(ScriptedResult("final", text, self._confidence))

    async def results(self) -> AsyncIterator[ScriptedResult]:
        while (item := await self._results.get()) is not None:
            yield item

    async def finish(self) -> ScriptedResult | None:
        if self._shown > self._finalised:
            self._emit_final()
        return None

    async def close(self) -> None:
        self._results.put_nowait(None)


class ScriptedSpeech:
    """An engine whose streams speak the script registered for the caller's number."""

    def __init__(self, *, threshold: float, ms_per_char: float = MS_PER_CHAR) -> None:
        self._threshold = threshold
        self.ms_per_char = ms_per_char
        self._scripts: dict[str, str] = {}

    def register(self, caller: str, text: str) -> None:
        self._scripts[caller] = text

    def open_stream(self, call_id: str, *, caller: str = "") -> ScriptedStream:
        return ScriptedStream(
            self._scripts.get(caller, ""), threshold=self._threshold, ms_per_char=self.ms_per_char
        )

    async def close(self) -> None:
        return None
