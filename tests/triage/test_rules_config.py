"""The rules YAML is validated with errors that name the line, and edits need no code."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.configfile import ConfigError
from ivr.triage import DEFAULT_RULES, load_triage

GOOD_HEAD = """\
locale: zh-CN
negation:
  words: [没]
cues:
  fire:
    route: "119"
    category: fire
    kind: must_accept
    patterns: [着火]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problem_lines(exc: ConfigError) -> list[tuple[int | None, str]]:
    return [(p.line, p.reason) for p in exc.problems]


def test_shipped_rules_load_from_any_working_directory(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_RULES.is_file()
    assert load_triage().decide("着火了").route == "119"


def test_engineer_can_add_a_keyword_without_code(tmp_path: Path) -> None:
    rules = (
        GOOD_HEAD
        + """\
  parking:
    route: "12345"
    category: move_car
    kind: service
    patterns: [挡住我的摊位]
"""
    )
    triage = load_triage(_write(tmp_path, rules))
    result = triage.decide("一台车挡住我的摊位了")
    assert (result.route, result.category) == ("12345", "move_car")


def test_bad_regex_is_reported_with_its_line(tmp_path: Path) -> None:
    rules = (
        GOOD_HEAD
        + """\
  noise:
    route: "12345"
    category: noise
    kind: service
    patterns:
      - 吵
      - '(噪音'
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_triage(_write(tmp_path, rules))
    [(line, reason)] = _problem_lines(caught.value)
    assert line == 16
    assert "not a valid pattern" in reason
    assert "rules.yaml:16" in str(caught.value)


def test_service_cue_cannot_claim_an_emergency_route(tmp_path: Path) -> None:
    rules = (
        GOOD_HEAD
        + """\
  sneaky:
    route: "110"
    category: move_car
    kind: service
    patterns: [堵]
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_triage(_write(tmp_path, rules))
    [(line, reason)] = _problem_lines(caught.value)
    assert line == 10
    assert "12345 or mediation" in reason


def test_unknown_category_is_rejected(tmp_path: Path) -> None:
    rules = (
        GOOD_HEAD
        + """\
  parking:
    route: "12345"
    category: parking
    kind: service
    patterns: [堵]
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_triage(_write(tmp_path, rules))
    assert "not a 12345 category" in str(caught.value)


def test_must_accept_cannot_be_switched_off_by_unless(tmp_path: Path) -> None:
    rules = GOOD_HEAD.replace(
        "    patterns: [着火]\n", "    patterns: [着火]\n    unless: [新闻]\n"
    )
    rules += (
        "  n:\n    route: mediation\n    category: family\n    kind: service\n    patterns: [吵]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_triage(_write(tmp_path, rules))
    assert "safety rule" in str(caught.value)


def test_misspelt_key_and_bad_weight_are_both_reported(tmp_path: Path) -> None:
    rules = (
        GOOD_HEAD
        + """\
  noise:
    route: "12345"
    category: noise
    kind: service
    wieght: 2
    weight: -1
    patterns: [吵]
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_triage(_write(tmp_path, rules))
    lines = {line for line, _ in _problem_lines(caught.value)}
    assert {14, 15} <= lines


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_triage(_write(tmp_path, GOOD_HEAD + "  bad: [unclosed\n"))
    assert caught.value.problems[0].line is not None


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_triage(tmp_path / "nope.yaml")
