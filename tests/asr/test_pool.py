"""Pooled recognisers: reused across calls, capped, retired after long use."""

from __future__ import annotations

from gateway.asr.pool import RETIRE_AFTER_SECONDS, RecogniserPool

from .conftest import LoadedModel


def test_released_recognisers_are_reused_up_to_the_cap(vosk_ko_model: LoadedModel) -> None:
    pool = RecogniserPool(vosk_ko_model.model, 16000, keep=1)
    first, second = pool.acquire(), pool.acquire()
    pool.release(first)
    pool.release(second)  # over the cap: freed
    assert pool.idle == 1 and pool.created == 2
    assert pool.acquire() is first


def test_a_recogniser_is_retired_after_long_use(vosk_ko_model: LoadedModel) -> None:
    pool = RecogniserPool(vosk_ko_model.model, 16000, keep=4)
    worn = pool.acquire()
    worn.fed_samples = RETIRE_AFTER_SECONDS * 16000
    pool.release(worn)
    assert pool.idle == 0
