"""Phrase hints: a runtime grammar of emergency phrases for a second, spotting recogniser.

The grammar recogniser hears the same audio as the free one but can only output the
listed phrases (or [unk]); its hits are reported beside the free transcript, never
merged into it, so a grammar never removes words the call-taker should see.
Vosk grammars are made of vocabulary words: a phrase without spaces (Chinese) is cut
into the longest vocabulary words it starts with; a phrase that cannot be cut is
ignored and reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

UNKNOWN = "[unk]"
LONGEST_WORD = 8  # characters tried when cutting an unspaced phrase


@dataclass(frozen=True)
class HintGrammar:
    json: str
    phrases: dict[str, str] = field(default_factory=dict)  # grammar form → phrase as given
    ignored: tuple[str, ...] = ()


def segment(phrase: str, in_vocabulary: Callable[[str], bool]) -> list[str] | None:
    """Vocabulary words making up ``phrase``, or None when it cannot be made of them."""
    if " " in phrase.strip():
        spaced = phrase.split()
        return spaced if all(in_vocabulary(w) for w in spaced) else None
    if in_vocabulary(phrase):
        return [phrase]
    words: list[str] = []
    rest = phrase
    while rest:
        for size in range(min(LONGEST_WORD, len(rest)), 0, -1):
            if in_vocabulary(rest[:size]):
                words.append(rest[:size])
                rest = rest[size:]
                break
        else:
            return None
    return words


def build_hint_grammar(phrases: Sequence[str], in_vocabulary: Callable[[str], bool]) -> HintGrammar:
    forms: dict[str, str] = {}
    ignored: list[str] = []
    for phrase in phrases:
        words = segment(phrase, in_vocabulary)
        if words is None:
            ignored.append(phrase)
        else:
            forms[" ".join(words)] = phrase
    entries = list(forms)
    if forms and in_vocabulary(UNKNOWN):
        entries.append(UNKNOWN)  # lets the spotter say "none of these" instead of guessing
    return HintGrammar(json.dumps(entries, ensure_ascii=False), forms, tuple(ignored))
