"""A cheap energy gate: only speech (plus the silence an endpoint needs) reaches Vosk.

Pure and synchronous. Decoding costs CPU per second of audio fed, so capacity comes from
not feeding silence and prompt time. An endpoint, however, is *made of* trailing
silence: after the last loud frame the gate keeps feeding for ``endpoint_silence``
seconds so Vosk's own endpointer can fire; if it has not by then, the gate asks for
the final itself (``finalize``) and closes. A short pre-roll is kept while closed so
soft word onsets below the threshold are not cut off.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

BYTES_PER_SAMPLE = 2


@dataclass(frozen=True, slots=True)
class GatedAudio:
    """Audio to decode; ``start`` is its offset in call audio (s). ``finalize``: end here."""

    start: float
    audio: bytes
    finalize: bool = False


def frame_rms(pcm: bytes) -> float:
    if len(pcm) < BYTES_PER_SAMPLE:
        return 0.0
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples)))


class EnergyGate:
    """Frames in (s16le mono, any size), gated audio out; keeps the call clock."""

    def __init__(
        self,
        *,
        sample_rate: int = 8000,
        threshold: float = 300.0,
        endpoint_silence: float = 0.8,
        preroll: float = 0.2,
        hangover: float = 0.3,
    ) -> None:
        self._rate = sample_rate
        self._threshold = threshold
        self._endpoint_silence = endpoint_silence
        self._hangover = hangover
        self._carry = b""
        self._samples = 0  # call audio seen so far (exact; the clock derives from it)
        self._open = False
        self._quiet_for = 0.0  # trailing silence fed since the last loud frame
        self._last_loud_end = -1e9
        self._preroll: deque[tuple[float, bytes]] = deque()
        self._preroll_bytes = 0
        self._preroll_limit_bytes = int(preroll * sample_rate) * BYTES_PER_SAMPLE

    @property
    def clock(self) -> float:
        """Seconds of call audio pushed so far."""
        return self._samples / self._rate

    @property
    def is_open(self) -> bool:
        """True while audio is being passed on to the recogniser."""
        return self._open

    @property
    def speaking(self) -> bool:
        """Caller audible now (loud frame within ``hangover``): a barge-in signal."""
        return self.clock - self._last_loud_end <= self._hangover + 1e-9

    def push(self, pcm: bytes) -> GatedAudio | None:
        """One frame in; the audio to decode (or None while gated shut)."""
        pcm = self._carry + pcm
        usable = len(pcm) - len(pcm) % BYTES_PER_SAMPLE
        pcm, self._carry = pcm[:usable], pcm[usable:]
        if not pcm:
            return None
        start = self.clock
        samples = len(pcm) // BYTES_PER_SAMPLE
        self._samples += samples
        duration = samples / self._rate
        loud = frame_rms(pcm) >= self._threshold
        if loud:
            self._last_loud_end = self.clock
        if not self._open:
            return self._while_closed(start, pcm, loud)
        if loud:
            self._quiet_for = 0.0
            return GatedAudio(start, pcm)
        self._quiet_for += duration
        if self._quiet_for + 1e-9 >= self._endpoint_silence:
            self._open = False
            return GatedAudio(start, pcm, finalize=True)
        return GatedAudio(start, pcm)

    def _while_closed(self, start: float, pcm: bytes, loud: bool) -> GatedAudio | None:
        if not loud:
            self._remember(start, pcm)
            return None
        self._open = True
        self._quiet_for = 0.0
        first = self._preroll[0][0] if self._preroll else start
        audio = b"".join(chunk for _, chunk in self._preroll) + pcm
        self._preroll.clear()
        self._preroll_bytes = 0
        return GatedAudio(first, audio)

    def _remember(self, start: float, pcm: bytes) -> None:
        """Keep the most recent quiet audio, at least ``preroll`` of it, whole frames."""
        self._preroll.append((start, pcm))
        self._preroll_bytes += len(pcm)
        while self._preroll and (
            self._preroll_bytes - len(self._preroll[0][1]) >= self._preroll_limit_bytes
        ):
            self._preroll_bytes -= len(self._preroll.popleft()[1])
