"""Find the rules' cues in normalised text, honouring negation and 'unless' exceptions."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from ivr.triage.rules import Cue, Negation, TriageRules, expand_pattern


@dataclass(frozen=True)
class Hit:
    """One cue found in the normalised text (positions are in that text)."""

    name: str
    cue: Cue
    start: int
    end: int
    words: str
    negated: bool = False
    suppressed_by: str = ""

    @property
    def counts(self) -> bool:
        return not self.negated and not self.suppressed_by


@dataclass(frozen=True)
class _CompiledCue:
    name: str
    cue: Cue
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None
    # words a negative lookahead of the cue refuses to see next ("还在打" but not "还在打桩")
    continuations: tuple[str, ...]


def _alternation(patterns: list[str], clause_gap: int) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{expand_pattern(p, clause_gap)})" for p in patterns))


_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


def lookahead_words(patterns: list[str]) -> tuple[str, ...]:
    """The Chinese words inside the patterns' negative lookaheads "(?!…)"."""
    words: set[str] = set()
    for pattern in patterns:
        start = pattern.find("(?!")
        while start != -1:
            depth, end = 0, start
            for end in range(start, len(pattern)):
                if pattern[end] == "(" and (end == 0 or pattern[end - 1] != "\\"):
                    depth += 1
                elif pattern[end] == ")" and pattern[end - 1] != "\\":
                    depth -= 1
                    if depth == 0:
                        break
            words.update(_CJK_RUN.findall(pattern[start:end]))
            start = pattern.find("(?!", end)
    return tuple(sorted(words))


class NegationScope:
    """Is a cue at position ``start`` negated ("没人受伤", "不是着火", "还好没人掉下去")?"""

    def __init__(self, rules: Negation) -> None:
        self._window = rules.window
        self._negators = re.compile("|".join(map(re.escape, sorted(rules.words, key=len)[::-1])))
        masks = sorted(rules.not_negation, key=len, reverse=True)
        self._masks = re.compile("|".join(map(re.escape, masks))) if masks else None
        breakers = sorted([*rules.breakers, "，"], key=len, reverse=True)
        self._breakers = re.compile("|".join(map(re.escape, breakers)))

    def scan(self, text: str) -> NegationMap:
        """Find negators and scope breakers once per utterance."""
        if self._masks is not None:  # 是不是, 不停 … look like negators but are not
            text = self._masks.sub(lambda m: "_" * len(m.group()), text)
        negators = [(m.start(), m.end()) for m in self._negators.finditer(text)]
        breaks = [m.end() for m in self._breakers.finditer(text)]
        return NegationMap(negators, breaks, self._window)


@dataclass(frozen=True)
class NegationMap:
    negators: list[tuple[int, int]]  # (start, end), in text order
    breaks: list[int]  # end of each breaker (就是, 但是, a comma …)
    window: int

    def negates(self, start: int) -> bool:
        if not self.negators:
            return False
        scope_start = 0
        at = bisect_right(self.breaks, start)
        if at:
            scope_start = self.breaks[at - 1]
        for neg_start, neg_end in reversed(self.negators):
            # a negator may overlap the cue ("没人" + cue "人掉下去"); one starting inside
            # the cue is part of it ("没反应") and negates nothing
            if neg_start >= start:
                continue
            if neg_start < scope_start or start - neg_end > self.window:
                return False
            return True
        return False


class CueMatcher:
    def __init__(self, rules: TriageRules) -> None:
        self._cues = [
            _CompiledCue(
                name,
                cue,
                _alternation(cue.patterns, rules.clause_gap),
                _alternation(cue.unless, rules.clause_gap) if cue.unless else None,
                lookahead_words(cue.patterns),
            )
            for name, cue in rules.cues.items()
        ]
        self._by_name = {compiled.name: compiled for compiled in self._cues}
        self._negation = NegationScope(rules.negation)

    def find(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        negation = self._negation.scan(text)
        for compiled in self._cues:
            found = [m for m in compiled.pattern.finditer(text) if m.end() > m.start()]
            if not found:
                continue
            exception = compiled.unless.search(text) if compiled.unless is not None else None
            for match in found:
                hits.append(
                    Hit(
                        name=compiled.name,
                        cue=compiled.cue,
                        start=match.start(),
                        end=match.end(),
                        words=match.group(),
                        negated=compiled.cue.honours_negation and negation.negates(match.start()),
                        suppressed_by=exception.group() if exception is not None else "",
                    )
                )
        return hits

    def settled(self, hit: Hit, text: str) -> bool:
        """Would the cue still match whatever the caller says next? On partial text a cue
        whose own exception may still arrive ("还在打" before "桩", "偷" before "偷") waits."""
        compiled = self._by_name[hit.name]
        return all(
            compiled.pattern.match(text + word, hit.start) is not None
            for word in compiled.continuations
        )
