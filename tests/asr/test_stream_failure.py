"""A Vosk failure ends that call's recognition with a clear error, not the gateway."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from gateway.asr.errors import AsrFailed
from gateway.asr.gate import EnergyGate, GatedAudio
from gateway.asr.result import AsrResult
from gateway.asr.stream import RecognitionStream

from .conftest import FIRE_FRAMES_FOR_TESTS


class BrokenDecoder:
    """Behaves like CallDecoder until Vosk 'fails' on the first audio."""

    def process(self, chunks: Sequence[GatedAudio], dropped: bool) -> list[AsrResult]:
        raise RuntimeError("Failed to process waveform")

    def flush(self) -> list[AsrResult]:
        return []

    def release(self) -> None:
        pass


async def test_a_vosk_failure_raises_asr_failed_and_still_frees_the_slot() -> None:
    closed: list[RecognitionStream] = []
    with ThreadPoolExecutor(1) as executor:
        decoder: Any = BrokenDecoder()
        stream = RecognitionStream(
            "broken", decoder, EnergyGate(), executor, queue_bytes=8000, on_close=closed.append
        )
        for frame in FIRE_FRAMES_FOR_TESTS:
            stream.feed(frame)
        with pytest.raises(AsrFailed, match="broken"):
            async for _ in stream.results():
                pass
        assert await stream.finish() is None
        assert isinstance(stream.failure, RuntimeError)
        await stream.close()
    assert closed == [stream]
