"""One rules load per test session: triage is pure, so sharing it is safe."""

from __future__ import annotations

import pytest

from ivr.triage import Triage, load_triage


@pytest.fixture(scope="session")
def triage() -> Triage:
    return load_triage()


def asr_form(text: str) -> str:
    """What Vosk would give for clean text: no punctuation, a space between characters."""
    kept = [c for c in text if c not in "，。！？、,.!?…"]
    return " ".join(kept)
