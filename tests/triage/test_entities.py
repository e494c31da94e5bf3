"""Plates, addresses, landmarks and phone numbers with positions, in both text forms."""

from __future__ import annotations

import pytest

from ivr.triage import Entity, Triage
from tests.triage.conftest import asr_form


def _by_kind(entities: tuple[Entity, ...], kind: str) -> list[str]:
    return [e.value for e in entities if e.kind == kind]


@pytest.mark.parametrize(
    "text",
    ["赣A12345堵在我家门口", "赣A一二三四五堵在我家门口", "赣 A 幺 二 三 四 五 堵 在 我 家 门口"],
)
def test_plate_written_or_spoken(triage: Triage, text: str) -> None:
    assert _by_kind(triage.decide(text).entities, "plate") == ["赣A12345"]


def test_spoken_yao_is_one(triage: Triage) -> None:
    assert _by_kind(triage.decide("车牌是赣B幺幺二三四").entities, "plate") == ["赣B11234"]


@pytest.mark.parametrize("form", ["clean", "asr"])
def test_addresses_and_landmarks(triage: Triage, form: str) -> None:
    text = "我在南京路12号，华庭小区5栋门口，旁边是坳头村，红旗街道那边，菜市场门口"
    if form == "asr":
        text = asr_form(text)
    entities = triage.decide(text).entities
    addresses = _by_kind(entities, "address")
    assert "南京路12号" in addresses
    assert "华庭小区5栋" in addresses
    assert "坳头村" in addresses
    assert "红旗街道" in addresses
    assert "菜市场" in _by_kind(entities, "landmark")


@pytest.mark.parametrize(
    "text", ["电话13800138000", "电话 幺 三 八 零 零 幺 三 八 零 零 零", "打0791-86123456"]
)
def test_phone_numbers(triage: Triage, text: str) -> None:
    phones = _by_kind(triage.decide(text).entities, "phone")
    assert phones and phones[0] in {"13800138000", "0791-86123456"}


def test_entity_positions_cover_the_original_characters(triage: Triage) -> None:
    text = "喂 我 在 华庭 小区 五 栋 车牌 赣 A 一 二 三 四 五"
    for entity in triage.decide(text).entities:
        covered = text[entity.start : entity.end].replace(" ", "")
        assert covered and covered[0] == entity.value[0]
