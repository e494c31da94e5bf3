"""Make clean text and ASR output look alike, remembering where every character came from.

ASR gives "喂 我 刚 下班 回来 一股 煤气 味" (spaces, no punctuation, homophones); a person
types "喂，我刚下班回来一股煤气味". Rules match one normalised form, and evidence/entity
positions are mapped back to the caller's original text through ``origin``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

# Unicode categories dropped outright: control, format (zero-width, BOM), surrogate,
# private use, unassigned, and symbols such as emoji.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "So", "Sk"})
_CLAUSE_MARKS = "，。！？；：,.!?;:、…~～—"


def is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


@dataclass(frozen=True)
class NormalText:
    text: str
    origin: tuple[int, ...]  # origin[i] = index in the original text of text[i]
    original_length: int
    truncated: bool = False

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalised text back to the original text."""
        if not self.origin or start >= end:
            return (0, 0)
        return (self.origin[start], self.origin[end - 1] + 1)


def _fold(text: str) -> tuple[list[str], list[int]]:
    """NFKC per character, drop invisible/emoji characters, unify clause punctuation."""
    chars: list[str] = []
    origin: list[int] = []
    for index, raw in enumerate(text):
        if raw in "\n\r\t":
            chars.append("，")
            origin.append(index)
            continue
        if unicodedata.category(raw) in _DROPPED_CATEGORIES:
            continue
        for char in unicodedata.normalize("NFKC", raw):
            if char.isspace():
                chars.append(" ")
            elif char in _CLAUSE_MARKS:
                chars.append("，")
            else:
                chars.append(char.upper() if char.isascii() else char)
            origin.append(index)
    return chars, origin


def _drop_spaces(chars: list[str], origin: list[int]) -> tuple[list[str], list[int]]:
    """ASR separates words by spaces; Chinese has none. Keep one between two Latin words."""
    following = [""] * len(chars)  # the next non-space character after each position
    upcoming = ""
    for i in range(len(chars) - 1, -1, -1):
        following[i] = upcoming
        if chars[i] != " ":
            upcoming = chars[i]
    kept_chars: list[str] = []
    kept_origin: list[int] = []
    for i, char in enumerate(chars):
        if char == " ":
            before = kept_chars[-1] if kept_chars else ""
            after = following[i]
            if not (before.isascii() and before.isalpha() and after.isascii() and after.isalpha()):
                continue
            if kept_chars and kept_chars[-1] == " ":
                continue
        kept_chars.append(char)
        kept_origin.append(origin[i])
    # collapse runs of clause marks
    out_chars: list[str] = []
    out_origin: list[int] = []
    for char, where in zip(kept_chars, kept_origin, strict=True):
        if char == "，" and out_chars and out_chars[-1] == "，":
            continue
        out_chars.append(char)
        out_origin.append(where)
    return out_chars, out_origin


class Normaliser:
    def __init__(self, homophones: Mapping[str, str], max_chars: int) -> None:
        self._max_chars = max_chars
        self._homophones = dict(homophones)
        self._homophone_re = (
            re.compile("|".join(re.escape(k) for k in sorted(homophones, key=len, reverse=True)))
            if homophones
            else None
        )

    def __call__(self, text: str) -> NormalText:
        truncated = len(text) > self._max_chars
        source = text[: self._max_chars]
        chars, origin = _drop_spaces(*_fold(source))
        folded = "".join(chars)
        if self._homophone_re is not None:
            folded, origin = self._replace_homophones(folded, origin)
        return NormalText(folded, tuple(origin), len(text), truncated)

    def _replace_homophones(self, text: str, origin: list[int]) -> tuple[str, list[int]]:
        assert self._homophone_re is not None
        out: list[str] = []
        out_origin: list[int] = []
        last = 0
        for match in self._homophone_re.finditer(text):
            out.append(text[last : match.start()])
            out_origin.extend(origin[last : match.start()])
            right = self._homophones[match.group()]
            span = origin[match.start() : match.end()]
            out.append(right)
            # spread the replacement over the original characters it stands for
            out_origin.extend(span[min(i, len(span) - 1)] for i in range(len(right)))
            last = match.end()
        out.append(text[last:])
        out_origin.extend(origin[last:])
        return "".join(out), out_origin
