"""Resampling to the model's own rate, read from the model's config."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from gateway.asr.audio import BlockResampler, model_sample_rate

from .conftest import ko_model_dir, read_wav


def test_rate_comes_from_the_model_config(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mfcc.conf").write_text("--use-energy=false\n--sample-frequency=8000\n")
    assert model_sample_rate(tmp_path) == 8000


def test_rate_defaults_to_kaldis_16k_when_the_config_names_none(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mfcc.conf").write_text("--use-energy=false\n")
    assert model_sample_rate(tmp_path) == 16000


def test_ko_model_is_a_16k_model() -> None:
    assert model_sample_rate(ko_model_dir()) == 16000


def run(resampler: BlockResampler, pcm: bytes, sizes: list[int]) -> bytes:
    out: list[bytes] = []
    pos = 0
    while pos < len(pcm):
        size = sizes[pos % len(sizes)]
        out += resampler.push(pcm[pos : pos + size])
        pos += size
    out += resampler.flush()
    return b"".join(out)


def test_streaming_resampling_does_not_depend_on_frame_sizes() -> None:
    pcm = read_wav("fire_ko.wav")
    whole = run(BlockResampler(8000, 16000), pcm, [len(pcm)])
    framed = run(BlockResampler(8000, 16000), pcm, [320])
    rng = random.Random(3)
    ragged = run(
        BlockResampler(8000, 16000), pcm, [rng.choice([2, 160, 320, 480]) for _ in range(97)]
    )
    assert abs(len(whole) - 2 * len(pcm)) <= 4
    a, b, c = (np.frombuffer(x, "<i2").astype(int) for x in (whole, framed, ragged))
    n = min(len(a), len(b), len(c))
    assert np.max(np.abs(a[:n] - b[:n])) <= 4  # rounding only: no clicks at frame edges
    assert np.max(np.abs(a[:n] - c[:n])) <= 4


def test_output_comes_in_whole_blocks_until_the_flush() -> None:
    resampler = BlockResampler(8000, 16000, block_seconds=0.02)
    blocks = resampler.push(b"\1\0" * 8000)
    assert blocks and all(len(b) == 640 for b in blocks)


def test_same_rate_passes_audio_through() -> None:
    resampler = BlockResampler(8000, 8000)
    pcm = bytes(range(256)) * 5
    assert b"".join(resampler.push(pcm) + resampler.flush()) == pcm
