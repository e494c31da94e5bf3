"""Threats to maim are police matters, whatever dispute they come wrapped in."""

from __future__ import annotations

import pytest

from ivr.triage import Triage


@pytest.mark.parametrize(
    "text",
    [
        "为了工钱的事老板放话说要卸我一条胳膊",
        "邻居吵架吵到最后说要找人剁了我的手",
        "前几天借了他钱 他 说 还 不 上 就 废 了 我 的 腿",
    ],
)
def test_a_threat_to_maim_keeps_the_call_on_110(triage: Triage, text: str) -> None:
    result = triage.decide(text)
    assert result.route == "110" and result.category == "threat", result.explain()
