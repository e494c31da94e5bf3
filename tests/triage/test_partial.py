"""Acting on emergency words while the caller is still speaking."""

from __future__ import annotations

import pytest

from ivr.triage import Triage


@pytest.mark.parametrize(
    ("partial", "route"),
    [
        ("救命", "110"),
        ("喂 救命 啊 我", "110"),
        ("我们楼下有人拿刀", "110"),
        ("有 人 拿 刀 在", "110"),
        ("着火了着火了", "119"),
        ("我家楼道里一股煤气味", "119"),
        ("我爸突然晕倒了", "120"),
    ],
)
def test_strong_cue_mid_sentence_decides_now(triage: Triage, partial: str, route: str) -> None:
    result = triage.decide_partial(partial)
    assert result is not None
    assert result.route == route
    assert "decided on partial text" in result.notes


@pytest.mark.parametrize(
    "partial",
    [
        "",
        "喂",
        "喂 你好 我 想",
        "我想问一下那个",
        "隔壁装修吵得",
        "有台车堵在我家",
        "没人受伤",
        "我要报",
    ],
)
def test_neutral_or_service_partial_means_not_yet(triage: Triage, partial: str) -> None:
    assert triage.decide_partial(partial) is None


def test_weak_danger_word_alone_does_not_act_mid_sentence(triage: Triage) -> None:
    assert triage.decide_partial("快来") is None


def test_negated_danger_does_not_act_mid_sentence(triage: Triage) -> None:
    assert triage.decide_partial("不是着火啊，就是") is None


@pytest.mark.parametrize(
    ("partial", "continued", "route"),
    [
        ("隔壁工地晚上还在打", "隔壁工地晚上还在打桩", None),
        ("村后头那个厂子晚上偷", "村后头那个厂子晚上偷偷烧垃圾", None),
        ("楼下那两个人还在打", "楼下那两个人还在打人", "110"),
    ],
)
def test_partial_waits_while_the_cues_own_exception_may_still_follow(
    triage: Triage, partial: str, continued: str, route: str | None
) -> None:
    # "还在打" may become "还在打桩" (noise), "偷" may become "偷偷" (secretly)
    assert triage.decide_partial(partial) is None
    result = triage.decide_partial(continued)
    assert (result.route if result else None) == route
