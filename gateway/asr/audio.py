"""Sample-rate conversion for the recogniser: the model's own rate, read from its config.

AudioSocket gives 8 kHz; most Vosk models are 16 kHz. soxr's streaming resampler keeps
its filter state between chunks (no clicks at 20 ms boundaries, unlike audioop).
Output is re-cut into fixed blocks so Vosk sees the same input whatever the socket's
frame sizes and the worker's batching were (decoding is then reproducible).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soxr

KALDI_DEFAULT_RATE = 16000  # Kaldi's MFCC/fbank default when the config names none
_RATE = re.compile(r"^\s*--sample-frequency\s*=\s*(\d+)", re.MULTILINE)


def model_sample_rate(model_path: Path) -> int:
    """The rate the model was trained at, from conf/mfcc.conf (or fbank/model.conf)."""
    for name in ("mfcc.conf", "fbank.conf", "model.conf"):
        conf = model_path / "conf" / name
        if conf.is_file():
            match = _RATE.search(conf.read_text(encoding="utf-8", errors="replace"))
            if match:
                return int(match.group(1))
    return KALDI_DEFAULT_RATE


class BlockResampler:
    """Streaming s16le resampler that emits whole blocks of ``block_seconds``."""

    def __init__(self, in_rate: int, out_rate: int, *, block_seconds: float = 0.02) -> None:
        self._stream = (
            soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality="HQ")
            if in_rate != out_rate
            else None
        )
        self._block = int(out_rate * block_seconds) * 2
        self._pending = bytearray()

    @property
    def block_bytes(self) -> int:
        return self._block

    @property
    def backlog_bytes(self) -> int:
        """Converted audio waiting for a whole block."""
        return len(self._pending)

    def push(self, pcm: bytes) -> list[bytes]:
        """Input audio in; the whole output blocks now available."""
        self._pending += self._convert(pcm, last=False)
        return self._take_blocks()

    def flush(self) -> list[bytes]:
        """End of stream: the resampler's tail and a last, possibly short, block."""
        self._pending += self._convert(b"", last=True)
        blocks = self._take_blocks()
        if self._pending:
            blocks.append(bytes(self._pending))
            self._pending.clear()
        return blocks

    def _convert(self, pcm: bytes, *, last: bool) -> bytes:
        if self._stream is None:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2")
        return bytes(self._stream.resample_chunk(samples, last=last).tobytes())

    def _take_blocks(self) -> list[bytes]:
        count = len(self._pending) // self._block
        blocks = [
            bytes(self._pending[i * self._block : (i + 1) * self._block]) for i in range(count)
        ]
        del self._pending[: count * self._block]
        return blocks
