"""Emergency phrases become a grammar of vocabulary words, or are reported as ignored."""

from __future__ import annotations

import json

from gateway.asr.hints import build_hint_grammar, segment

VOCAB = {"救命", "有人", "拿", "刀", "着火", "了", "[unk]"}


def test_unspaced_chinese_is_cut_into_the_longest_vocabulary_words() -> None:
    assert segment("有人拿刀", VOCAB.__contains__) == ["有人", "拿", "刀"]
    assert segment("救命", VOCAB.__contains__) == ["救命"]


def test_phrase_with_an_unknown_part_is_ignored_and_reported() -> None:
    grammar = build_hint_grammar(["着火了", "爆炸"], VOCAB.__contains__)
    assert grammar.ignored == ("爆炸",)
    assert grammar.phrases == {"着火 了": "着火了"}


def test_grammar_lets_the_spotter_answer_unknown_when_the_model_has_it() -> None:
    grammar = build_hint_grammar(["救命"], VOCAB.__contains__)
    assert json.loads(grammar.json) == ["救命", "[unk]"]
    without = build_hint_grammar(["救命"], (VOCAB - {"[unk]"}).__contains__)
    assert json.loads(without.json) == ["救命"]
