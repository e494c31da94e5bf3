"""The same situations spoken and transcribed by Vosk: spaces, no punctuation, homophones."""

from __future__ import annotations

import pytest

from ivr.triage import Triage
from tests.triage.conftest import asr_form

CASES = [
    ("我老公喝了酒在打我，我躲在厕所里，你们快来", "110"),
    ("一开门一股煤气味，好冲，灯我没敢开", "119"),
    ("我爸突然倒在地上抽筋，口吐白沫，叫他没反应", "120"),
    ("有台车停在消防通道上，堵住我们车库出口，挪车电话打不通", "12345"),
    ("楼上卫生间漏水，漏到我家天花板都发霉了，讲了他也不管", "mediation"),
    ("没人受伤，就是两台车刮了一下", "110"),
    ("没打架，就是我跟我老婆为彩礼的事吵得厉害", "mediation"),
]


@pytest.mark.parametrize(("text", "route"), CASES)
def test_clean_and_asr_forms_route_alike(triage: Triage, text: str, route: str) -> None:
    clean = triage.decide(text)
    spoken = triage.decide(asr_form(text))
    assert clean.route == route
    assert (spoken.route, spoken.category) == (clean.route, clean.category)


def test_fillers_do_not_change_the_decision(triage: Triage) -> None:
    plain = triage.decide("隔壁工地半夜还在打桩，吵得睡不着")
    padded = triage.decide("喂 那个 就是 嗯 隔壁 工地 半夜 还在 打桩 嗯 吵 得 睡 不着 就是")
    assert (padded.route, padded.category) == (plain.route, plain.category) == ("12345", "noise")


@pytest.mark.parametrize(
    ("misheard", "route"),
    [
        ("我 老婆 有 颠 闲 刚才 又 发作 了 抽 了 五 分钟", "120"),
        ("着 伙 了 柴 伙 堆 烧 起来 了", "119"),
        ("车站 广场 好多 人 在 打 裙 架", "110"),
    ],
)
def test_common_homophone_errors_are_corrected(triage: Triage, misheard: str, route: str) -> None:
    assert triage.decide(misheard).route == route


def test_evidence_positions_point_into_the_asr_text(triage: Triage) -> None:
    text = "有 个 男 的 拿 着 一 把 砍刀 在 那里 晃"
    result = triage.decide(text)
    assert result.route == "110"
    for evidence in result.evidence:
        assert text[evidence.start : evidence.end].replace(" ", "") == evidence.words
