"""`gateway eval` and `gateway triage` as an engineer runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main

SUMMARY_KEYS = {
    "total",
    "emergency_total",
    "emergency_misrouted",
    "nonpolice_total",
    "nonpolice_diverted",
    "diversion_rate",
    "route_accuracy",
    "category_accuracy",
}


def _jsonl(tmp_path: Path, rows: list[dict[str, str] | str]) -> Path:
    path = tmp_path / "labelled.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = [
    {"text": "有人拿刀砍人", "route": "110", "category": "weapon"},
    {
        "text": "有台车堵在我家车库门口，找不到车主",
        "route": "12345",
        "category": "move_car",
        "asr_text": "有 台 车 堵 在 我 家 车库 门口 找 不到 车主",
    },
    {"text": "房东不退押金", "route": "mediation", "category": "tenancy"},
]


def test_json_output_is_one_object_with_the_agreed_keys(tmp_path: Path, capsys) -> None:
    code = main(["eval", str(_jsonl(tmp_path, GOOD)), "--json"])
    out = capsys.readouterr().out
    summary = json.loads(out)  # exactly one JSON document on stdout
    assert SUMMARY_KEYS <= summary.keys()
    assert summary["total"] == 3
    assert summary["emergency_total"] == 1
    assert summary["emergency_misrouted"] == 0
    assert summary["nonpolice_total"] == 2
    assert summary["nonpolice_diverted"] == 2
    assert summary["diversion_rate"] == 1.0
    assert code == 0


def test_asr_field_skips_items_without_it(tmp_path: Path, capsys) -> None:
    code = main(["eval", str(_jsonl(tmp_path, GOOD)), "--field", "asr_text", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["total"] == 1
    assert summary["skipped"] == 2
    assert code == 0


def test_emergency_sent_away_fails_and_is_listed(tmp_path: Path, capsys) -> None:
    # gold says emergency, the words say a noise complaint: triage diverts, eval must fail
    rows = [
        *GOOD,
        {"id": "x-9", "text": "隔壁KTV半夜唱歌吵得睡不着", "route": "110", "category": "assault"},
    ]
    code = main(["eval", str(_jsonl(tmp_path, rows))])
    out = capsys.readouterr().out
    assert code == 1
    assert "line 4 x-9" in out
    assert "confusion matrix" in out
    assert "precision" in out and "recall" in out
    assert "diversion_rate" in out


def test_corrupt_line_is_named_and_the_rest_scored(tmp_path: Path, capsys) -> None:
    rows: list[dict[str, str] | str] = [GOOD[0], "{not json", GOOD[1], '["a list"]', GOOD[2]]
    code = main(["eval", str(_jsonl(tmp_path, rows)), "--json"])
    captured = capsys.readouterr()
    assert "line 2" in captured.err
    assert "line 4" in captured.err
    assert json.loads(captured.out)["total"] == 3
    assert code == 0


def test_empty_file_gets_a_clear_message(tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    code = main(["eval", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "empty" in err


def test_missing_file_gets_a_clear_message(tmp_path: Path, capsys) -> None:
    code = main(["eval", str(tmp_path / "nope.jsonl")])
    assert code == 2
    assert "no such file" in capsys.readouterr().err


def test_triage_command_prints_route_category_confidence_evidence(capsys) -> None:
    code = main(["triage", "隔壁那个人拿着刀在楼道里晃，华庭小区5栋"])
    out = capsys.readouterr().out
    assert code == 0
    assert "route:      110" in out
    assert "category:   weapon" in out
    assert "confidence:" in out
    assert "『拿着刀』" in out
    assert "华庭小区5栋" in out


def test_broken_rules_file_is_reported_by_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("locale: zh-CN\nnegation:\n  words: [没]\ncues: []\n", encoding="utf-8")
    code = main(["triage", "着火了", "--rules", str(bad)])
    assert code == 2
    assert "bad.yaml:4" in capsys.readouterr().err


@pytest.mark.parametrize("field", ["text", "asr_text"])
def test_dev_corpus_meets_the_issue_targets(field: str, capsys) -> None:
    dev = Path(__file__).resolve().parent / "corpus" / "dev.jsonl"
    code = main(["eval", str(dev), "--field", field, "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["emergency_misrouted"] == 0
    assert summary["diversion_rate"] >= 0.90
    assert code == 0


def test_own_heldout_set_sends_no_emergency_away(capsys) -> None:
    own = Path(__file__).with_name("heldout_own.jsonl")
    code = main(["eval", str(own), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["emergency_misrouted"] == 0
    assert summary["diversion_rate"] >= 0.85
    assert code == 0
