"""A cheap energy detector: is the caller speaking? (barge-in and ASR gating)."""

from __future__ import annotations

import numpy as np


def frame_rms(pcm: bytes) -> float:
    """RMS of signed 16-bit little-endian samples (0 for an empty frame)."""
    if len(pcm) < 2:
        return 0.0
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples)))


class EnergyDetector:
    """Speech starts after ``attack_ms`` above threshold and ends after ``hangover_ms`` below.

    The attack keeps a click or a single loud frame from counting as barge-in.
    """

    def __init__(self, threshold: float, *, attack_ms: int = 60, hangover_ms: int = 300) -> None:
        self.threshold = threshold
        self.attack_ms = attack_ms
        self.hangover_ms = hangover_ms
        self.speaking = False
        self._loud_ms = 0.0
        self._quiet_ms = 0.0

    def update(self, pcm: bytes) -> bool | None:
        """Feed one frame; returns True when speech starts, False when it stops, else None."""
        duration_ms = len(pcm) / 16.0  # 8 kHz * 2 bytes = 16 bytes per ms
        loud = frame_rms(pcm) >= self.threshold
        if loud:
            self._loud_ms += duration_ms
            self._quiet_ms = 0.0
        else:
            self._quiet_ms += duration_ms
            self._loud_ms = 0.0
        if not self.speaking and self._loud_ms >= self.attack_ms:
            self.speaking = True
            return True
        if self.speaking and self._quiet_ms >= self.hangover_ms:
            self.speaking = False
            return False
        return None
