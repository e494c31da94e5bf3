"""The dialog with the real triage rules and the real prompt durations: the issue's calls."""

from __future__ import annotations

import pytest

from gateway.settings import DIVERTED_ROUTES, IvrSettings
from ivr.dialog import Dialog
from ivr.dialog_messages import Final, Partial, SpeechStarted, SpeechStopped
from ivr.prompts import load_prompt_catalog
from ivr.prompts_cli import default_out, default_texts
from ivr.triage import DEFAULT_RULES, load_triage
from tests.ivr.support import Call

TRIAGE = load_triage(DEFAULT_RULES)
CATALOG = load_prompt_catalog(default_texts("zh-CN"), default_out("zh-CN"))
SETTINGS = IvrSettings()


def _call(consent: str = "opt_out") -> Call:
    dialog = Dialog(
        SETTINGS,
        consent=consent,  # type: ignore[arg-type]
        classify_final=TRIAGE.decide,
        classify_partial=TRIAGE.decide_partial,
        prompts=CATALOG,
    )
    return Call(dialog)


def _duration(prompt_id: str) -> float:
    seconds = CATALOG.duration(prompt_id)
    assert seconds is not None
    return seconds


def _greeted(consent: str = "opt_out") -> tuple[Call, float]:
    call = _call(consent)
    call.start(0.0)
    end = _duration("greeting")
    call.finish_prompt(end)
    return call, end


def _play_out(call: Call, at: float) -> float:
    while call.playing is not None:
        at += _duration(call.playing)
        call.finish_prompt(at)
    return at


def test_car_blocking_a_garage_is_confirmed_and_reaches_12345_within_the_budget() -> None:
    call, at = _greeted()
    spoken = call.say("有辆车堵住我车库门口，打不通车主电话", at + 0.8, seconds=5.0)
    assert call.plays[-1] == "confirm_12345_move_car"
    end = _play_out(call, spoken)
    call.tick_until(SETTINGS.time_budget)
    route = call.route
    assert (route.route, route.category, route.reason) == ("12345", "move_car", "no-objection")
    assert route.at == pytest.approx(end + SETTINGS.confirm_window)
    assert route.at <= SETTINGS.time_budget
    assert any(e.rule.startswith("car") for e in route.evidence)


def test_knife_mid_sentence_routes_to_110_before_the_caller_stops() -> None:
    call, at = _greeted()
    call.send(SpeechStarted(at + 0.5))
    call.send(Partial("我 家 门口 有 个 人", at + 1.5))
    assert call.routes == []
    call.send(Partial("我 家 门口 有 个 人 拿 刀", at + 2.0))
    assert (call.route.route, call.route.reason) == ("110", "partial-emergency")
    assert call.route.at == at + 2.0


def test_fire_routes_to_119_on_the_partial() -> None:
    call, at = _greeted()
    call.send(SpeechStarted(at + 0.5))
    call.send(Partial("楼下 着火 了", at + 1.2))
    assert (call.route.route, call.route.category) == ("119", "fire")


def test_neighbour_quarrel_is_confirmed_to_mediation() -> None:
    call, at = _greeted()
    spoken = call.say("隔壁邻居天天吵架，吵得我们没法休息", at + 0.5, seconds=4.0)
    assert call.plays[-1] == "confirm_mediation_neighbour"
    end = _play_out(call, spoken)
    call.tick_until(SETTINGS.time_budget)
    route = call.route
    assert (route.route, route.category, route.reason) == ("mediation", "neighbour", "no-objection")
    assert route.at == pytest.approx(end + SETTINGS.confirm_window)


def test_key_1_during_the_real_confirmation_keeps_the_call_on_110() -> None:
    call, at = _greeted()
    spoken = call.say("有辆车堵住我车库门口，打不通车主电话", at + 0.5, seconds=4.0)
    call.key("1", spoken + 1.0)
    assert (call.route.route, call.route.reason) == ("110", "dtmf-1")


def test_opt_in_city_transfers_on_a_spoken_yes() -> None:
    call, at = _greeted("opt_in")
    spoken = call.say("有辆车堵住我车库门口，打不通车主电话", at + 0.5, seconds=4.0)
    end = _play_out(call, spoken)
    call.say("好的", end + 0.5, seconds=0.6)
    assert (call.route.route, call.route.reason) == ("12345", "confirmed")


def test_a_complaint_that_turns_violent_in_the_window_stays_on_110() -> None:
    call, at = _greeted()
    spoken = call.say("有辆车堵住我车库门口，打不通车主电话", at + 0.5, seconds=4.0)
    end = _play_out(call, spoken)
    call.send(SpeechStarted(end + 0.5))
    call.send(Partial("车主 来 了 拿 刀 要 砍 我", end + 1.5))
    assert call.route.route == "110"


def test_silent_caller_goes_to_110_within_the_budget() -> None:
    call, _ = _greeted()
    call.tick_until(100.0)
    if call.playing == "reprompt":
        call.finish_prompt(call.now + _duration("reprompt"))
    call.tick_until(100.0)
    assert call.route.route == "110" and call.route.at <= SETTINGS.time_budget


def test_caller_final_text_with_asr_spacing_is_understood() -> None:
    call, at = _greeted()
    call.send(SpeechStarted(at + 0.5))
    call.send(SpeechStopped(at + 4.0))
    call.send(Final("有 辆 车 堵住 我 车库 门口 打 不 通 车主 电话", 0.9, at + 4.3))
    assert call.plays[-1] == "confirm_12345_move_car"


@pytest.mark.parametrize("consent", ["opt_out", "opt_in"])
def test_talking_over_the_real_destination_prompt_with_a_yes_word_stays_on_110(
    consent: str,
) -> None:
    call, at = _greeted(consent)
    spoken = call.say("有辆车堵住我车库门口，打不通车主电话", at + 0.5, seconds=4.0)
    assert call.playing == "confirm_12345_move_car"
    call.say("是这样的，我想问问", spoken + 1.0)  # before the destination was named
    assert (call.route.route, call.route.reason) == ("110", "confirmation-interrupted")


EMERGENCY_MID_COMPLAINT = {  # phrase → the route it must get at once
    "救命": "110",
    "有人拿刀": "110",
    "他打我": "110",
    "着火了": "119",
    "我要报警": "110",
}


@pytest.mark.parametrize("consent", ["opt_out", "opt_in"])
@pytest.mark.parametrize("only_in_final", [False, True], ids=["partial", "final"])
@pytest.mark.parametrize("phrase", list(EMERGENCY_MID_COMPLAINT))
def test_an_emergency_phrase_in_the_middle_of_a_diversion_complaint_is_never_diverted(
    phrase: str, only_in_final: bool, consent: str
) -> None:
    call, at = _greeted(consent)
    before, after = "有辆车堵住我车库门口，", "，打不通车主电话"
    call.send(SpeechStarted(at + 0.5))
    call.send(Partial(before if only_in_final else before + phrase, at + 2.0))
    if not call.dialog.finished:
        call.send(SpeechStopped(at + 4.0))
        call.send(Final(before + phrase + after, 0.95, at + 4.3))
    if not call.dialog.finished:  # wrong, but then nothing may divert it later either
        end = _play_out(call, at + 4.3)
        call.say("好的", end + 0.5, seconds=0.6)
        call.tick_until(SETTINGS.time_budget)
    route = call.route
    assert route.route not in DIVERTED_ROUTES, route
    assert route.route == EMERGENCY_MID_COMPLAINT[phrase], route
    assert "confirm_12345_move_car" not in call.plays  # decided before any confirmation
