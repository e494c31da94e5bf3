"""Recognition results as plain values, and their parsing from Vosk's JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ResultKind = Literal["partial", "final"]


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word; times are seconds of call audio since the stream opened."""

    text: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class AsrResult:
    """A partial (caller still speaking) or final (at an endpoint) transcript.

    ``confidence`` comes from the per-word confidences only (see
    :func:`utterance_confidence`). Partials carry no words and confidence 0.0 (Vosk
    gives partials none); their ``start``/``end`` span the utterance heard so far.
    Times are seconds of call audio since the stream opened. ``dropped_audio`` is true
    when the bounded audio queue dropped part of this utterance. ``hints`` are
    emergency phrases the optional grammar recogniser heard in this utterance; they
    never change ``text``.
    """

    kind: ResultKind
    text: str
    words: tuple[Word, ...]
    confidence: float
    dropped_audio: bool
    start: float
    end: float
    hints: tuple[str, ...] = ()


def utterance_confidence(words: Sequence[Word]) -> float:
    """Duration-weighted mean of the word confidences; 0.0 when there are no words.

    Vosk's alternatives' scores are not probabilities, so they are never used.
    Weighting by duration keeps a short filler word from swamping a long clear one.
    """
    if not words:
        return 0.0
    weights = [max(word.end - word.start, 0.01) for word in words]
    total = sum(weights)
    return sum(w * word.conf for w, word in zip(weights, words, strict=True)) / total


TimeMap = Callable[[float], float]


def parse_final(
    payload: str, to_stream_time: TimeMap, *, dropped: bool, hints: tuple[str, ...] = ()
) -> AsrResult | None:
    """A final result from ``Result()``/``FinalResult()`` JSON; None when nothing was said."""
    data = json.loads(payload)
    words = _words(data.get("result", ()), to_stream_time)
    text = str(data.get("text", "")).strip()
    if not text:
        return None
    return AsrResult(
        kind="final",
        text=text,
        words=words,
        confidence=utterance_confidence(words),
        dropped_audio=dropped,
        start=words[0].start if words else 0.0,
        end=words[-1].end if words else 0.0,
        hints=hints,
    )


def parse_partial(
    payload: str,
    start: float,
    end: float,
    *,
    dropped: bool,
    hints: tuple[str, ...] = (),
) -> AsrResult | None:
    """A partial from ``PartialResult()`` JSON (text only: Vosk is asked for no partial word
    timings, which would delay partials); ``start``/``end`` bound the audio heard so far.
    None when it is still empty."""
    text = str(json.loads(payload).get("partial", "")).strip()
    if not text:
        return None
    return AsrResult(
        kind="partial",
        text=text,
        words=(),
        confidence=0.0,
        dropped_audio=dropped,
        start=round(start, 3),
        end=round(end, 3),
        hints=hints,
    )


def _words(items: Any, to_stream_time: TimeMap) -> tuple[Word, ...]:
    return tuple(
        Word(
            text=str(item["word"]),
            start=round(to_stream_time(float(item["start"])), 3),
            end=round(to_stream_time(float(item["end"])), 3),
            conf=float(item.get("conf", 0.0)),
        )
        for item in items
    )
