"""Plates, addresses, landmarks and phone numbers a call-taker would otherwise re-type.

Works on the normalised text (spaces gone, so ASR "赣 A 一 二 三" reads 赣A一二三) and
reports positions in the caller's original text.
"""

from __future__ import annotations

import re

from ivr.triage.normalise import NormalText
from ivr.triage.result import Entity

_SPOKEN_DIGITS = str.maketrans("零〇洞幺一二两三四五六七八九", "00011223456789")
_DIGIT = "0-9零〇洞幺一二两三四五六七八九"
_NUMBER = f"[{_DIGIT}十百]+"
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼港澳"

_PLATE = re.compile(f"[{_PROVINCES}][A-Z][A-Z{_DIGIT}]{{4,6}}(?![{_DIGIT}A-Z])")
_PHONE = re.compile(
    f"(?<![{_DIGIT}])(?:[1幺一][3-9三四五六七八九][{_DIGIT}]{{9}}|0[0-9]{{2,3}}-?[0-9]{{7,8}})"
    f"(?![{_DIGIT}])"
)
_HAN = "\u4e00-\u9fff"
# Words that end a place name on its left: "我在坳头村" → 坳头村.
_LEFT_STOPS = set("在到是的我你他她们那这个里去从往于就了和跟对呢吧啊喂号栋村区，")
# Each pattern's first group is the name part, trimmed on its left by _trim_left.
_LEADING_WORDS = (
    "那边",
    "这边",
    "旁边",
    "边上",
    "附近",
    "对面",
    "前面",
    "后面",
    "下面",
    "那里",
    "这里",
)
_ADDRESS_PATTERNS = (
    re.compile(
        f"([{_HAN}]{{1,8}})(?:路|街|大道|巷|弄)(?:{_NUMBER}号)(?:{_NUMBER}(?:栋|幢|号楼|单元|室))*"
    ),
    re.compile(
        f"([{_HAN}A-Z]{{1,8}})(?:小区|花园|苑|院(?!子|里)|新村|公寓|大厦|家园|山庄|城)"
        f"(?:{_NUMBER}(?:栋|幢|号楼|单元|楼|室))+"
    ),
    re.compile(f"([{_HAN}]{{1,8}})(?:小区|花园|新村|家园|公寓)"),
    re.compile(f"([{_HAN}]{{1,6}}(?:街道|镇|乡)?[{_HAN}]{{0,4}})村(?!口|里|民|委|长|子|头)"),
    re.compile(f"([{_HAN}]{{1,6}})街道"),
    re.compile(f"([{_HAN}]{{1,6}})(?:路|街)(?=口|上|边|那|这|站|附近|旁|中间|$)"),
)
_LANDMARK = re.compile(f"([{_HAN}]{{2,10}})(?=门口|附近|旁边|对面|前面|后面|边上|下面|那边|路口)")
_LANDMARK_NOUNS = re.compile(
    "学校|小学|中学|市场|超市|商场|车站|汽车站|火车站|医院|加油站|公园|广场|桥|网吧|饭店|"
    "银行|政府|派出所|工地|厂|店|酒店|宾馆|站台|停车场|小卖部|高速|路口|村口|巷子"
)


def _trim_left(text: str, start: int, end: int) -> int:
    """Move ``start`` right past function words in text[start:end] (the name part)."""
    cut = start
    for word in _LEADING_WORDS:  # "那边菜市场" → 菜市场
        at = text.rfind(word, start, end)
        if at != -1:
            cut = max(cut, at + len(word))
    for i in range(end - 1, cut - 1, -1):
        if text[i] in _LEFT_STOPS:
            return i + 1
    return cut


def _spoken_to_digits(value: str) -> str:
    return value.translate(_SPOKEN_DIGITS)


def _add(found: list[Entity], seen: list[tuple[int, int]], entity: Entity) -> None:
    if entity.end - entity.start < 2:
        return
    for start, end in seen:
        if entity.start < end and start < entity.end:
            return
    seen.append((entity.start, entity.end))
    found.append(entity)


def extract_entities(norm: NormalText) -> tuple[Entity, ...]:
    text = norm.text
    found: list[Entity] = []
    seen: list[tuple[int, int]] = []

    def emit(kind: str, start: int, end: int, value: str) -> None:
        o_start, o_end = norm.span(start, end)
        _add(found, seen, Entity(kind, value, o_start, o_end))

    for match in _PLATE.finditer(text):
        emit("plate", match.start(), match.end(), _spoken_to_digits(match.group()))
    for match in _PHONE.finditer(text):
        emit("phone", match.start(), match.end(), _spoken_to_digits(match.group()))
    for pattern in _ADDRESS_PATTERNS:
        for match in pattern.finditer(text):
            start = _trim_left(text, match.start(1), match.end(1))
            if match.end(1) > start and match.end() - start >= 2:
                emit("address", start, match.end(), text[start : match.end()])
    for match in _LANDMARK.finditer(text):
        start = _trim_left(text, match.start(1), match.end(1))
        name = text[start : match.end()]
        if len(name) >= 2 and _LANDMARK_NOUNS.search(name):
            emit("landmark", start, match.end(), name)
    return tuple(sorted(found, key=lambda e: e.start))
