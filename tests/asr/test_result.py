"""Utterance confidence comes from word confidences only; empty results are not results."""

from __future__ import annotations

import json

from gateway.asr.result import Word, parse_final, parse_partial, utterance_confidence


def same(t: float) -> float:
    return t


def test_confidence_is_the_duration_weighted_mean_of_word_confidences() -> None:
    words = [Word("a", 0.0, 1.0, 1.0), Word("b", 1.0, 1.1, 0.0)]
    assert abs(utterance_confidence(words) - 1.0 / 1.1) < 1e-9


def test_no_words_means_no_confidence() -> None:
    assert utterance_confidence([]) == 0.0


def test_final_ignores_alternative_scores_and_maps_times() -> None:
    payload = json.dumps(
        {
            "result": [
                {"word": "불이", "start": 0.5, "end": 0.9, "conf": 0.5},
                {"word": "났어요", "start": 0.9, "end": 1.3, "conf": 1.0},
            ],
            "text": "불이 났어요",
            "alternatives": [{"confidence": 812.3, "text": "불이 났어요"}],
        }
    )
    result = parse_final(payload, lambda t: t + 10.0, dropped=True)
    assert result is not None
    assert result.kind == "final"
    assert (result.start, result.end) == (10.5, 11.3)
    assert abs(result.confidence - 0.75) < 1e-9
    assert result.dropped_audio


def test_empty_final_and_empty_partial_are_none() -> None:
    assert parse_final('{"text": ""}', same, dropped=False) is None
    assert parse_partial('{"partial": ""}', 0.0, 1.0, dropped=False) is None


def test_partial_has_text_and_span_but_no_confidence() -> None:
    result = parse_partial('{"partial": "도와 주세요"}', 1.5, 2.25, dropped=False)
    assert result is not None
    assert (result.text, result.start, result.end) == ("도와 주세요", 1.5, 2.25)
    assert result.confidence == 0.0 and result.words == ()
