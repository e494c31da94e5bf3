"""Reusable Vosk recognisers: a fresh one costs far more than decoding with a warm one.

Measured on the ko small model: creating a recogniser takes ~50 ms, and its first
second of audio ~0.8 s of CPU while its lazily composed decoding graph fills; a reused
recogniser decodes the same second in ~0.05 s. So recognisers outlive calls.

Between calls nothing of the previous caller survives but that graph cache: a
recogniser is released only after ``FinalResult()``, and Vosk rebuilds the feature
pipeline (and its speaker adaptation) on the next audio after a final. Vosk keeps
counting time across calls, so each pooled recogniser remembers how much audio it has
been fed; a call subtracts that base from Vosk's word times.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import vosk

# A recogniser is retired after this much audio: bounds whatever per-recogniser state
# grows with use (graph cache, time offsets) in a gateway that runs for months.
RETIRE_AFTER_SECONDS = 4 * 3600


@dataclass
class PooledRecogniser:
    recogniser: Any
    fed_samples: int = 0  # all audio ever fed: Vosk's time base for the next call


class RecogniserPool:
    """Thread-safe pool of free-transcript recognisers on one model; at most ``keep`` idle."""

    def __init__(self, model: Any, sample_rate: int, *, keep: int) -> None:
        self._model = model
        self._rate = sample_rate
        self._keep = keep
        self._idle: list[PooledRecogniser] = []
        self._lock = threading.Lock()
        self.created = 0

    @property
    def idle(self) -> int:
        return len(self._idle)

    def acquire(self) -> PooledRecogniser:
        """An idle recogniser, or a new one (call on a worker thread: creation is slow)."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.created += 1
        recogniser = vosk.KaldiRecognizer(self._model, float(self._rate))
        recogniser.SetWords(True)
        # No partial word timings: with them Vosk builds partials from its incremental
        # lattice and the ko model's partials lag speech by ~1.5 s instead of ~0.5 s.
        recogniser.SetPartialWords(False)
        return PooledRecogniser(recogniser)

    def release(self, entry: PooledRecogniser) -> None:
        """Back to the pool. The caller has called FinalResult() since its last audio."""
        retired = entry.fed_samples >= RETIRE_AFTER_SECONDS * self._rate
        with self._lock:
            if not retired and len(self._idle) < self._keep:
                self._idle.append(entry)
                return
        del entry  # over the cap or retired: Vosk frees it with its last reference

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()
