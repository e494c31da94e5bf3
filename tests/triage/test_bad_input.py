"""Whatever arrives, decide() answers, and doubt goes to 110."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.triage import Triage


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("😀😡🚗🔥", "empty"),
        ("\x00\x01\x1b\x07\x7f", "empty"),
        ("\x1b[31m\x1b[0m", "not-chinese"),
        ("help me please, there is a problem", "not-chinese"),
        ("Помогите", "not-chinese"),
        ("喂？喂？……喂？", "too-short"),
        ("喂 你好 那个 我 嗯", "too-short"),
    ],
)
def test_nothing_usable_is_110_unclear(triage: Triage, text: str, rule: str) -> None:
    result = triage.decide(text)
    assert (result.route, result.category, result.rule) == ("110", "unclear", rule)
    partial = triage.decide_partial(text)
    assert partial is None or partial.route == "110"


def test_emoji_and_control_characters_do_not_hide_words(triage: Triage) -> None:
    result = triage.decide("着\u200b火\x00了🔥🔥")
    assert result.route == "119"
    for evidence in result.evidence:
        assert evidence.start < evidence.end


def test_full_width_and_mixed_script_are_folded(triage: Triage) -> None:
    result = triage.decide("ＫＴＶ半夜还在唱，吵得睡不着")
    assert (result.route, result.category) == ("12345", "noise")


def test_ten_thousand_characters_are_cut_and_noted(triage: Triage) -> None:
    text = "隔壁装修好吵" * 2000
    result = triage.decide(text)
    assert result.route in {"110", "12345", "mediation"}
    assert any("cut" in note for note in result.notes)
    assert all(e.end <= len(text) for e in result.evidence)


def test_danger_at_the_start_of_a_huge_input_still_wins(triage: Triage) -> None:
    result = triage.decide("有人拿刀砍人" + "啊" * 10_000)
    assert result.route == "110"


def test_non_string_input_is_unclear_not_a_crash(triage: Triage) -> None:
    assert triage.decide(None).route == "110"  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gets_a_valid_result(triage: Triage, text: str) -> None:
    result = triage.decide(text)
    assert result.route in {"110", "119", "120", "12345", "mediation"}
    assert 0.0 <= result.confidence <= 1.0
    for item in (*result.evidence, *result.entities):
        assert 0 <= item.start <= item.end <= len(text)
