"""A harm word keeps a call on 110: the structural net under the danger cues.

An emergency told in words the danger cues do not know (yet) still carries some harm
word — blood, a knife, "help", someone missing, water, a fall. A veto cue never routes a
call anywhere by itself, but no service cue can divert a call that contains one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.configfile import ConfigError
from ivr.triage import Triage, load_triage
from tests.triage.conftest import asr_form

DIVERTED = {"12345", "mediation"}
PROBES = Path(__file__).with_name("service_worded_probes.jsonl")

RULES = """\
locale: zh-CN
negation:
  words: [没, 没有]
cues:
  fire:
    route: "119"
    category: fire
    kind: must_accept
    patterns: [着火]
  blood:
    route: "110"
    category: distress
    kind: veto
    patterns: [流血]
  blocked:
    route: "12345"
    category: move_car
    kind: service
    weight: 2
    patterns: [车被堵]
"""


def _rules(tmp_path: Path, text: str = RULES) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_harm_word_blocks_a_diversion_the_service_cues_would_make(tmp_path: Path) -> None:
    triage = load_triage(_rules(tmp_path))
    assert triage.decide("我车被堵了，出不去").route == "12345"
    result = triage.decide("我车被堵了，我手在流血")
    assert (result.route, result.rule) == ("110", "harm-veto")
    assert any(e.rule == "blood" and e.words == "流血" for e in result.evidence)


def test_negated_harm_word_does_not_block(tmp_path: Path) -> None:
    triage = load_triage(_rules(tmp_path))
    result = triage.decide("我车被堵了，没流血，就是出不去")
    assert result.route == "12345"
    assert any(e.rule == "negated:blood" for e in result.evidence)


def test_harm_word_alone_is_not_acted_on_mid_sentence(tmp_path: Path) -> None:
    # the veto keeps a call on 110; it is not a strong cue to route on while they speak
    assert load_triage(_rules(tmp_path)).decide_partial("我手在流血") is None


def test_veto_cue_cannot_be_switched_off_by_unless(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="safety rule"):
        load_triage(
            _rules(
                tmp_path, RULES.replace("patterns: [流血]", "patterns: [流血]\n    unless: [鼻]")
            )
        )


def test_veto_cue_must_belong_to_an_emergency_route(tmp_path: Path) -> None:
    bad = RULES.replace(
        'route: "110"\n    category: distress', 'route: "12345"\n    category: noise'
    )
    with pytest.raises(ConfigError, match="110, 119 or 120"):
        load_triage(_rules(tmp_path, bad))


@pytest.mark.parametrize(
    "text",
    [
        "楼上装修吵得要命，我妈被吵得住院了",
        "我车被堵在车库，车主不接电话，我老婆要生了",
        "隔壁吵架好凶，现在没声音了",
        "物业不管，我家孩子爬到窗户外面的空调架上了",
    ],
)
def test_service_complaint_with_harm_words_stays_with_police(triage: Triage, text: str) -> None:
    assert triage.decide(text).route not in DIVERTED
    assert triage.decide(asr_form(text)).route not in DIVERTED


def _probes(emergency: bool) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in PROBES.read_text(encoding="utf-8").splitlines()]
    return [row for row in rows if row["emergency"] is emergency]


@pytest.mark.parametrize("probe", _probes(emergency=True), ids=lambda p: str(p["text"])[:12])
def test_emergency_told_in_service_words_is_never_diverted(
    triage: Triage, probe: dict[str, object]
) -> None:
    text = str(probe["text"])
    assert triage.decide(text).route not in DIVERTED
    assert triage.decide(asr_form(text)).route not in DIVERTED


def test_everyday_complaints_in_new_wordings_are_mostly_diverted(triage: Triage) -> None:
    probes = _probes(emergency=False)
    right = sum(triage.decide(str(p["text"])).route == p["route"] for p in probes)
    assert right / len(probes) >= 0.85


def test_fresh_training_set_sends_no_emergency_away(capsys: pytest.CaptureFixture[str]) -> None:
    fresh = Path(__file__).with_name("fresh_train.jsonl")
    code = main(["eval", str(fresh), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["emergency_misrouted"] == 0
    assert summary["diversion_rate"] >= 0.88
    assert code == 0
