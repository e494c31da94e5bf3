"""The IVR dialog, rule by rule (issue 5). Synchronous: events in, commands out."""

from __future__ import annotations

import pytest

from gateway.settings import IvrSettings
from ivr.dialog import Dialog
from ivr.dialog_messages import (
    AsrUnavailable,
    CallerHungUp,
    Dtmf,
    Final,
    Log,
    Partial,
    Play,
    PromptFinished,
    Route,
    SpeechStarted,
    SpeechStopped,
    Started,
    State,
    StopPlayback,
    Tick,
)
from ivr.prompts import PromptCatalog
from ivr.triage.result import TriageResult
from tests.ivr.support import (
    CATALOG,
    Call,
    KeywordTriage,
    confirming_call,
    expect_only_logs,
    greeted_call,
    make_dialog,
)

MOVE_CAR = "有辆车堵住我车库门口，打不通车主电话"

# ----------------------------------------------------------------------------- greeting


def test_answer_plays_the_greeting_which_the_caller_may_interrupt() -> None:
    call = Call(make_dialog())
    out = call.start(0.0)
    plays = [c for c in out if isinstance(c, Play)]
    assert [(p.prompt_id, p.barge_in) for p in plays] == [("greeting", True)]
    assert plays[0].text == CATALOG["greeting"]
    assert call.dialog.state is State.GREETING


def test_speech_during_the_greeting_stops_it_at_once() -> None:
    call = Call(make_dialog())
    call.start(0.0)
    out = call.send(SpeechStarted(1.2))
    assert out[0] == StopPlayback()
    assert call.dialog.state is State.DESCRIBING


def test_a_stopped_prompt_reporting_its_end_late_changes_nothing() -> None:
    call = Call(make_dialog())
    call.start(0.0)
    call.send(SpeechStarted(1.0))
    out = call.send(PromptFinished("greeting", 1.1))
    expect_only_logs(out)
    assert call.dialog.state is State.DESCRIBING


def test_events_before_the_call_is_answered_are_ignored() -> None:
    call = Call(make_dialog())
    for event in (Dtmf("5", 0.1), SpeechStarted(0.1), Partial("喂", 0.2), Tick(0.3)):
        expect_only_logs(call.send(event))
    assert call.dialog.state is State.WAITING and call.dialog.next_deadline is None
    call.start(1.0)
    assert call.plays == ["greeting"]


# ----------------------------------------------------------------------------- keys and words


@pytest.mark.parametrize("digit", ["1", "0"])
def test_emergency_key_during_the_greeting_routes_to_110_at_once(digit: str) -> None:
    call = Call(make_dialog())
    call.start(0.0)
    out = call.key(digit, 1.0)
    assert out[0] == StopPlayback()
    assert call.route.route == "110"
    assert call.route.reason == f"dtmf-{digit}"
    assert call.route.at == 1.0
    assert call.dialog.state is State.ROUTED


@pytest.mark.parametrize("stage", ["listening", "describing", "confirming", "window"])
def test_key_1_at_any_moment_routes_to_110(stage: str) -> None:
    if stage == "listening":
        call, at = greeted_call(), 6.0
    elif stage == "describing":
        call = greeted_call()
        call.send(SpeechStarted(6.0))
        call.send(Partial("有辆车", 6.5))
        at = 7.0
    else:
        call, at = confirming_call()
        if stage == "window":
            at = call.finish_prompts(at)
    call.key("1", at + 0.5)
    assert (call.route.route, call.route.reason) == ("110", "dtmf-1")


def test_other_keys_do_not_route_the_speech_first_dialog() -> None:
    call = greeted_call()
    for digit in "3456789*#":
        expect_only_logs(call.key(digit, 6.0))
    assert call.routes == [] and call.dialog.state is State.LISTENING


def test_a_non_emergency_key_stops_the_greeting_and_the_dialog_listens() -> None:
    call = Call(make_dialog())
    call.start(0.0)
    call.key("5", 2.0)
    assert call.playing is None and call.dialog.state is State.LISTENING
    assert call.dialog.next_deadline == 2.0 + IvrSettings().greeting_timeout


@pytest.mark.parametrize("words", ["我要报警", "转人工", "叫警察来", "报 警", "我不要报警"])
def test_asking_for_police_or_a_person_routes_to_110_while_still_talking(words: str) -> None:
    call = greeted_call()
    call.send(SpeechStarted(6.0))
    call.send(Partial(words, 6.4))
    assert call.route.route == "110"
    assert call.route.reason == "person-word"
    assert call.route.evidence[0].rule == "person_word"
    assert call.route.at == 6.4


@pytest.mark.parametrize(
    ("words", "route"), [("救命 有人拿刀", "110"), ("着火了", "119"), ("我妈晕倒了", "120")]
)
def test_emergency_cue_in_partial_text_routes_before_the_caller_finishes(
    words: str, route: str
) -> None:
    call = greeted_call()
    call.send(SpeechStarted(6.0))
    out = call.send(Partial(words, 6.3))
    routes = [c for c in out if isinstance(c, Route)]
    assert [r.route for r in routes] == [route]
    assert routes[0].reason == "partial-emergency"
    assert routes[0].transcript == words
    assert routes[0].triage is not None and routes[0].evidence


def test_emergency_cue_spoken_over_the_greeting_routes_at_once() -> None:
    call = Call(make_dialog())
    call.start(0.0)
    call.send(SpeechStarted(0.5))
    call.send(Partial("救命", 0.8))
    assert call.route.route == "110" and call.route.reason == "partial-emergency"


# ----------------------------------------------------------------------------- silence, doubt


def test_silence_after_the_greeting_reprompts_once_then_goes_to_110() -> None:
    call = greeted_call(silent_caller_max=30.0)  # room for the re-prompt
    timeout = IvrSettings().greeting_timeout
    call.tick_until(5.0 + timeout)
    assert call.plays == ["greeting", "reprompt"]
    assert call.routes == []
    call.finish_prompt(5.0 + timeout + 3.0)
    call.tick_until(100.0)
    assert call.route.route == "110" and call.route.reason == "silence"
    assert call.route.transcript == "" and call.route.category == "unclear"
    assert call.route.at == 5.0 + timeout + 3.0 + timeout


def test_a_silent_caller_reaches_110_within_the_silent_limit_not_after_re_prompts() -> None:
    """DESIGN: a silent caller is with a 110 call-taker within about 12 s of answer. With
    the shipped prompts a re-prompt would not fit: the call goes to 110 at once."""
    call = greeted_call()  # greeting ends at 5 s
    limit = IvrSettings().silent_caller_max
    call.tick_until(100.0)
    assert call.plays == ["greeting"]
    assert call.route.route == "110" and call.route.reason == "silence"
    assert call.route.at <= limit <= 11.5


def test_the_silent_limit_counts_from_answer_even_during_a_long_greeting() -> None:
    call = Call(make_dialog(silent_caller_max=8.0))
    call.start(0.0)  # the greeting never finishes (a very long prompt)
    call.tick_until(100.0)
    assert call.route.reason == "silence" and call.route.at == 8.0


def test_a_caller_heard_once_is_re_prompted_not_cut_off_by_the_silent_limit() -> None:
    call = greeted_call()
    call.send(SpeechStarted(6.0))
    call.send(SpeechStopped(6.5))  # a sound, no words: worth asking again
    call.tick_until(11.5)
    assert call.routes == []
    assert call.plays == ["greeting", "reprompt"]


def test_with_no_reprompts_configured_silence_goes_straight_to_110() -> None:
    call = greeted_call(reprompts=0)
    call.tick_until(100.0)
    assert call.plays == ["greeting"]
    assert call.route.reason == "silence" and call.route.at == 5.0 + IvrSettings().greeting_timeout


def test_sound_without_words_is_reprompted_then_goes_to_110() -> None:
    call = greeted_call()
    call.say("", 6.0)
    assert call.plays[-1] == "reprompt"
    end = call.finish_prompt(12.0) and 12.0
    call.say("", end + 1.0)
    assert call.route.route == "110" and call.route.reason == "nothing-usable"


def test_unclear_description_goes_to_110_with_its_transcript() -> None:
    call = greeted_call()
    call.say("嗯 那个 我想问一下", 6.0)
    assert call.route.route == "110"
    assert call.route.reason == "unclear"
    assert call.route.transcript == "嗯 那个 我想问一下"


def test_low_triage_confidence_goes_to_110_not_to_12345() -> None:
    call = greeted_call()
    call.say("楼下噪音有点大", 6.0)
    assert call.route.route == "110" and call.route.reason == "low-confidence"
    assert call.route.triage is not None and call.route.triage.route == "12345"


def test_low_asr_confidence_goes_to_110_even_when_triage_is_sure() -> None:
    call = greeted_call()
    call.say(MOVE_CAR, 6.0, confidence=0.3)
    assert call.route.route == "110" and call.route.reason == "low-confidence"
    assert "confirm_12345_move_car" not in call.plays


@pytest.mark.parametrize("confidence", [float("nan"), -1.0, 7.0])
def test_nonsense_asr_confidence_never_diverts(confidence: float) -> None:
    call = greeted_call()
    call.say(MOVE_CAR, 6.0, confidence=confidence)
    assert call.route.route == "110" and call.route.reason == "low-confidence"


def test_nonsense_triage_confidence_never_diverts() -> None:
    nan = TriageResult("12345", "move_car", float("nan"))
    dialog = Dialog(
        IvrSettings(),
        consent="opt_out",
        classify_final=lambda text: nan,
        classify_partial=lambda text: None,
        prompts=CATALOG,
    )
    call = Call(dialog)
    call.start(0.0)
    call.finish_prompt(5.0)
    call.say(MOVE_CAR, 6.0)
    assert call.route.route == "110" and call.route.reason == "low-confidence"


def test_low_confidence_medical_call_goes_to_110_rather_than_guessing() -> None:
    call = greeted_call()
    call.say("我有点头晕", 6.0)
    assert call.route.route == "110" and call.route.reason == "low-confidence"


def test_police_matter_goes_to_110_with_its_category() -> None:
    call = greeted_call()
    call.say("我电动车被人偷了", 6.0)
    assert (call.route.route, call.route.category, call.route.reason) == (
        "110",
        "theft",
        "triage-110",
    )


def test_fire_described_in_full_goes_to_119() -> None:
    triage = KeywordTriage()
    call = Call(make_dialog(triage=triage))
    call.start(0.0)
    call.finish_prompt(5.0)
    # The cue only becomes clear in the final text (partials said nothing yet).
    call.send(SpeechStarted(6.0))
    call.send(SpeechStopped(8.0))
    call.send(Final("厨房 着火 了", 0.9, 8.4))
    assert call.route.route == "119" and call.route.category == "fire"


def test_a_classifier_that_fails_sends_the_call_to_110() -> None:
    def broken(text: str) -> object:
        raise RuntimeError("rules not loaded")

    dialog = Dialog(
        IvrSettings(),
        consent="opt_out",
        classify_final=broken,  # type: ignore[arg-type]
        classify_partial=broken,  # type: ignore[arg-type]
        prompts=CATALOG,
    )
    call = Call(dialog)
    call.start(0.0)
    call.finish_prompt(5.0)
    call.say(MOVE_CAR, 6.0)
    assert call.route.route == "110" and call.route.reason == "triage-error"
    assert call.logs("triage_error")


def test_final_text_that_never_comes_is_replaced_by_the_partial_after_final_wait() -> None:
    call = greeted_call()
    call.send(SpeechStarted(6.0))
    call.send(Partial(MOVE_CAR, 7.0))
    call.send(SpeechStopped(8.0))
    assert call.dialog.next_deadline == 8.0 + IvrSettings().final_wait
    call.tick_until(20.0)
    # Partial-only words carry no ASR confidence: not enough to divert.
    assert call.route.route == "110" and call.route.reason == "low-confidence"
    assert call.route.transcript == MOVE_CAR


def test_description_max_bounds_how_long_the_dialog_listens() -> None:
    call = greeted_call(description_max=6.0)
    call.send(SpeechStarted(6.0))
    call.send(Partial("我跟你讲 这个事情是这样的", 8.0))
    call.tick_until(11.9)
    assert call.routes == []
    call.tick_until(12.0)
    assert call.route.route == "110" and call.route.at == 12.0


def test_a_pause_between_sentences_waits_for_the_caller_to_finish() -> None:
    call = greeted_call()
    call.send(SpeechStarted(6.0))
    call.send(Final("你好", 0.9, 7.0))  # a segment ends while energy says still speaking
    assert call.routes == [] and call.dialog.state is State.DESCRIBING
    call.send(Partial("你好 有辆车堵住我车库", 7.5))
    call.send(SpeechStopped(8.0))
    call.send(Final("有辆车堵住我车库", 0.9, 8.5))
    assert call.plays[-1] == "confirm_12345_move_car"
    assert call.dialog.transcript == "你好 有辆车堵住我车库"


# ----------------------------------------------------------------------------- confirmation


def test_diversion_is_confirmed_naming_the_destination_then_routed_after_the_window() -> None:
    call, at = confirming_call()
    assert call.plays[-1] == "confirm_12345_move_car"
    assert "12345" in CATALOG["confirm_12345_move_car"]
    assert "按1" in CATALOG["confirm_opt_out"]
    call.finish_prompt(at + 4.0)
    assert call.plays[-1] == "confirm_opt_out"
    call.finish_prompt(at + 6.0)
    window = IvrSettings().confirm_window
    call.tick_until(at + 6.0 + window - 0.01)
    assert call.routes == []
    call.tick_until(at + 6.0 + window)
    route = call.route
    assert (route.route, route.category, route.reason) == ("12345", "move_car", "no-objection")
    assert route.at == at + 6.0 + window
    assert route.transcript == MOVE_CAR and route.evidence


def test_confirmation_window_counts_from_the_end_of_the_confirmation_prompt() -> None:
    call, at = confirming_call(confirm_window=2.0)
    call.tick_until(at + 8.0)  # the prompt is still playing: no window yet
    assert call.routes == [] and call.dialog.next_deadline == 25.0  # only the budget
    call.finish_prompts(at + 8.0)  # prompts end at +9, +10
    assert call.dialog.next_deadline == at + 10.0 + 2.0


def test_key_1_during_the_confirmation_prompt_keeps_the_call_on_110() -> None:
    call, at = confirming_call()
    out = call.key("1", at + 1.0)
    assert out[0] == StopPlayback()
    assert (call.route.route, call.route.reason) == ("110", "dtmf-1")


def test_key_1_in_the_window_keeps_the_call_on_110() -> None:
    call, at = confirming_call()
    end = call.finish_prompts(at)
    call.key("1", end + 2.9)
    assert (call.route.route, call.route.reason) == ("110", "dtmf-1")


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("不要", "caller-refused"),
        ("不用了", "caller-refused"),
        ("不行", "caller-refused"),
        ("我要警察", "person-word"),  # asking for the police is checked before refusals
    ],
)
def test_spoken_refusal_in_the_window_keeps_the_call_on_110(reply: str, reason: str) -> None:
    call, at = confirming_call()
    end = call.finish_prompts(at)
    call.send(SpeechStarted(end + 0.5))
    call.send(Partial(reply, end + 0.8))
    assert (call.route.route, call.route.reason) == ("110", reason)
    assert call.route.at == end + 0.8  # on the partial, not at the end of the window


def test_spoken_yes_in_the_window_routes_at_once() -> None:
    call, at = confirming_call()
    end = call.finish_prompts(at)
    done = call.say("好的", end + 0.3, seconds=0.5)
    assert (call.route.route, call.route.reason) == ("12345", "confirmed")
    assert call.route.at == done


def test_a_caller_still_answering_when_the_window_closes_is_heard_out() -> None:
    call, at = confirming_call()
    end = call.finish_prompts(at)
    window_end = end + IvrSettings().confirm_window
    call.send(SpeechStarted(window_end - 0.1))
    call.tick_until(window_end + 0.5)
    assert call.routes == []
    call.send(SpeechStopped(window_end + 0.6))
    call.send(Final("不 不要转", 0.9, window_end + 0.9))
    assert (call.route.route, call.route.reason) == ("110", "caller-refused")


def test_a_new_complaint_in_the_window_is_rechecked_and_kept_on_110() -> None:
    call, at = confirming_call()
    end = call.finish_prompts(at)
    call.say("他下车还打我", end + 0.2)
    # Not a refusal word, so opt-out would divert; the guard re-reads the transcript.
    assert call.route.route == "110"
    assert call.route.reason == "guard:transcript-not-diverted"
    assert call.logs("guard")


def test_mediation_dispute_is_confirmed_to_mediation() -> None:
    call = greeted_call()
    at = call.say("楼上邻居天天吵到半夜", 6.0)
    assert call.plays[-1] == "confirm_mediation_neighbour"
    end = call.finish_prompts(at)
    call.tick_until(end + 10)
    assert (call.route.route, call.route.category) == ("mediation", "neighbour")


def test_category_without_its_own_prompt_uses_the_generic_confirmation() -> None:
    call = greeted_call()
    call.say("我们小区路灯坏了", 6.0)
    assert call.plays[-1] == "confirm_12345"


def test_confirmation_cut_off_by_a_noise_is_played_again_once() -> None:
    call, at = confirming_call()
    call.send(SpeechStarted(at + 1.0))  # a cough stops the prompt
    call.send(SpeechStopped(at + 1.3))
    call.send(Final("", 0.0, at + 1.6))
    assert call.plays[-2:] == ["confirm_12345_move_car", "confirm_12345_move_car"]
    call.send(SpeechStarted(at + 2.0))  # and again
    call.send(SpeechStopped(at + 2.2))
    call.send(Final("", 0.0, at + 2.5))
    assert (call.route.route, call.route.reason) == ("110", "confirmation-interrupted")


@pytest.mark.parametrize("consent", ["opt_out", "opt_in"])
def test_a_yes_spoken_over_the_destination_prompt_does_not_divert(consent: str) -> None:
    call, at = confirming_call(consent)
    call.say("好的好的", at + 2.0, seconds=0.6)  # the caller never heard where to
    assert (call.route.route, call.route.reason) == ("110", "confirmation-interrupted")


@pytest.mark.parametrize("consent", ["opt_out", "opt_in"])
def test_a_sentence_opening_with_yes_over_the_destination_prompt_stays_on_110(
    consent: str,
) -> None:
    call, at = confirming_call(consent)
    call.say("是这样的，我想问问", at + 1.0)
    assert (call.route.route, call.route.reason) == ("110", "confirmation-interrupted")
    assert "confirm_opt_out" not in call.plays and "confirm_opt_in" not in call.plays


@pytest.mark.parametrize("consent", ["opt_out", "opt_in"])
def test_consent_key_during_the_destination_prompt_keeps_the_call_on_110(consent: str) -> None:
    call, at = confirming_call(consent)
    call.key("2", at + 1.0)
    assert (call.route.route, call.route.reason) == ("110", "confirmation-interrupted")


@pytest.mark.parametrize("consent", ["opt_out", "opt_in"])
def test_a_yes_spoken_once_the_question_has_started_is_accepted(consent: str) -> None:
    call, at = confirming_call(consent)
    call.finish_prompt(at + 5.0)  # the destination played to its end; the question starts
    assert call.playing in ("confirm_opt_out", "confirm_opt_in")
    call.say("好的", at + 5.5, seconds=0.5)
    assert (call.route.route, call.route.reason) == ("12345", "confirmed")


@pytest.mark.parametrize("consent", ["opt_out", "opt_in"])
def test_consent_key_once_the_question_has_started_is_a_yes(consent: str) -> None:
    call, at = confirming_call(consent)
    call.finish_prompt(at + 5.0)
    out = call.key("2", at + 5.5)
    assert out[0] == StopPlayback()
    assert (call.route.route, call.route.reason) == ("12345", "confirmed")


@pytest.mark.parametrize(
    "reply", ["好", "好的", "好 的", "好的好的", "嗯", "可以。", "是的", "行吧", "好的谢谢", "同意"]
)
def test_a_short_whole_reply_of_consent_words_is_a_yes(reply: str) -> None:
    call, at = confirming_call("opt_in")
    end = call.finish_prompts(at)
    call.say(reply, end + 0.5, seconds=0.5)
    assert (call.route.route, call.route.reason) == ("12345", "confirmed")


@pytest.mark.parametrize(
    "reply", ["是这样的我想问问", "好痛", "是我", "是吗", "可以吗", "好多车堵在这", "行？"]
)
def test_a_reply_merely_containing_a_consent_word_is_not_a_yes(reply: str) -> None:
    call, at = confirming_call("opt_in")
    end = call.finish_prompts(at)
    call.say(reply, end + 0.5)
    assert call.route.route == "110" and call.route.reason != "confirmed"


def test_opt_out_words_in_the_window_neither_confirm_nor_cut_the_window_short() -> None:
    call, at = confirming_call()
    end = call.finish_prompts(at)
    call.say("是这样的，我想问问", end + 0.3, seconds=1.5)
    assert call.routes == []  # not a yes, not a refusal: the caller keeps the window
    call.key("1", end + 2.9)
    assert (call.route.route, call.route.reason) == ("110", "dtmf-1")


def test_opt_out_words_in_the_window_divert_only_when_the_window_has_passed() -> None:
    call, at = confirming_call()
    end = call.finish_prompts(at)
    call.say("是这样的，我想问问", end + 0.3, seconds=1.5)
    call.tick_until(end + 60)
    route = call.route
    assert (route.route, route.reason) == ("12345", "no-objection")
    assert route.at == end + IvrSettings().confirm_window


def test_a_refusal_over_the_destination_prompt_keeps_110_at_once() -> None:
    call, at = confirming_call()
    call.send(SpeechStarted(at + 1.0))
    call.send(Partial("不要 转", at + 1.3))
    assert (call.route.route, call.route.reason, call.route.at) == (
        "110",
        "caller-refused",
        at + 1.3,
    )


def test_a_noise_over_the_question_replays_the_whole_confirmation_and_a_yes_then_needs_it() -> None:
    call, at = confirming_call()
    call.finish_prompt(at + 5.0)  # the question starts
    call.send(SpeechStarted(at + 5.5))  # a cough stops it
    call.send(SpeechStopped(at + 5.7))
    call.send(Final("", 0.0, at + 6.0))
    assert call.plays[-1] == "confirm_12345_move_car"  # the destination again
    call.say("好的", at + 7.0, seconds=0.5)  # over the replayed destination: not a yes
    assert (call.route.route, call.route.reason) == ("110", "confirmation-interrupted")


def test_a_late_prompt_finished_for_a_stopped_prompt_does_not_end_its_replay() -> None:
    call, at = confirming_call()
    call.send(SpeechStarted(at + 1.0))  # a cough stops the destination prompt
    call.send(SpeechStopped(at + 1.2))
    wait_over = at + 1.2 + IvrSettings().final_wait
    # The stopped prompt's end is reported only after the wait for a final ran out: the
    # dialog first replays the confirmation, then must not take this report for it.
    out = call.send(PromptFinished("confirm_12345_move_car", wait_over + 0.5))
    assert [c.prompt_id for c in out if isinstance(c, Play)] == ["confirm_12345_move_car"]
    assert call.playing == "confirm_12345_move_car" and call.routes == []
    call.say("好的", wait_over + 1.0, seconds=0.5)  # still over the destination
    assert (call.route.route, call.route.reason) == ("110", "confirmation-interrupted")


def test_unexpected_key_during_confirmation_keeps_the_call_on_110() -> None:
    call, at = confirming_call()
    call.key("5", at + 1.0)
    assert (call.route.route, call.route.reason) == ("110", "unexpected-key")


def test_confirmation_that_cannot_finish_within_the_budget_is_skipped_for_110() -> None:
    durations = {p: 4.0 for p in CATALOG}
    call = Call(make_dialog(catalog=CATALOG.with_durations(durations), time_budget=20.0))
    call.start(0.0)
    call.finish_prompt(5.0)
    call.say(MOVE_CAR, 6.0, seconds=6.0)  # decided at 12.3; 4 + 4 + 3 s would end at 23.3
    assert (call.route.route, call.route.reason) == ("110", "budget")
    assert "confirm_12345_move_car" not in call.plays


# ----------------------------------------------------------------------------- opt-in cities


def test_opt_in_city_asks_for_an_explicit_yes() -> None:
    call, at = confirming_call("opt_in")
    call.finish_prompt(at + 4.0)
    assert call.plays[-1] == "confirm_opt_in"
    assert "按2" in CATALOG["confirm_opt_in"]


def test_opt_in_city_diverts_on_a_spoken_yes() -> None:
    call, at = confirming_call("opt_in")
    end = call.finish_prompts(at)
    call.say("可以", end + 0.5, seconds=0.5)
    assert (call.route.route, call.route.reason) == ("12345", "confirmed")


def test_opt_in_city_diverts_on_the_consent_key() -> None:
    call, at = confirming_call("opt_in")
    end = call.finish_prompts(at)
    call.key("2", end + 0.5)
    assert (call.route.route, call.route.reason) == ("12345", "confirmed")


def test_opt_in_city_keeps_a_silent_caller_on_110() -> None:
    call, at = confirming_call("opt_in")
    end = call.finish_prompts(at)
    call.tick_until(end + 60)
    assert (call.route.route, call.route.reason) == ("110", "opt-in-no-answer")


def test_opt_in_city_keeps_an_unclear_reply_on_110() -> None:
    call, at = confirming_call("opt_in")
    end = call.finish_prompts(at)
    call.say("啊 什么", end + 0.5)
    assert (call.route.route, call.route.reason) == ("110", "opt-in-no-answer")


# ----------------------------------------------------------------------------- hang-up, budget


@pytest.mark.parametrize("stage", ["waiting", "greeting", "describing", "confirming"])
def test_caller_hanging_up_inside_the_ivr_raises_a_callback_with_the_transcript(
    stage: str,
) -> None:
    call = Call(make_dialog())
    heard = ""
    if stage != "waiting":
        call.start(0.0)
    if stage in ("describing", "confirming"):
        call.finish_prompt(5.0)
        call.send(SpeechStarted(6.0))
        call.send(Partial("我家门口", 6.5))
        heard = "我家门口"
    if stage == "confirming":
        call.send(SpeechStopped(7.5))
        call.send(Final(MOVE_CAR, 0.9, 8.0))
        heard = MOVE_CAR
    call.send(CallerHungUp(9.0))
    assert call.routes == []
    [callback] = call.callbacks
    assert (callback.reason, callback.transcript, callback.at) == ("caller-hung-up", heard, 9.0)
    assert callback.stage == stage
    assert call.dialog.state is State.ABANDONED
    expect_only_logs(call.send(Dtmf("1", 9.5)))


def test_hang_up_after_the_route_raises_no_callback() -> None:
    call = Call(make_dialog())
    call.start(0.0)
    call.key("1", 1.0)
    expect_only_logs(call.send(CallerHungUp(2.0)))
    assert call.callbacks == []


def test_after_the_route_the_dialog_ignores_everything() -> None:
    call, at = confirming_call()
    call.key("1", at + 1.0)
    for event in (
        Final("好的", 0.9, at + 2),
        Dtmf("2", at + 3),
        Tick(at + 100),
        Started(at + 101),
        AsrUnavailable(at + 102),
    ):
        expect_only_logs(call.send(event))
    assert len(call.routes) == 1 and call.dialog.next_deadline is None


def test_time_budget_sends_the_call_to_110() -> None:
    call = Call(make_dialog(time_budget=12.0, silent_caller_max=30.0))
    call.start(0.0)  # the greeting never reports its end (a stuck playback)
    assert call.dialog.next_deadline == 12.0
    call.tick_until(12.0)
    assert (call.route.route, call.route.reason, call.route.at) == ("110", "budget", 12.0)
    assert StopPlayback() in call.commands


def test_a_late_event_is_preceded_by_the_deadline_it_passed() -> None:
    call = Call(make_dialog(time_budget=12.0))
    call.start(0.0)
    call.finish_prompt(5.0)
    call.send(SpeechStarted(6.0))
    call.send(Partial("我想说", 7.0))
    call.send(Final(MOVE_CAR, 0.9, 30.0))  # orchestrator fell behind: no Tick at 12
    assert (call.route.route, call.route.reason, call.route.at) == ("110", "budget", 12.0)


def test_time_never_runs_backwards_for_out_of_order_events() -> None:
    call = greeted_call()
    call.send(SpeechStarted(8.0))
    call.send(SpeechStopped(7.0))  # stamped earlier than the last event
    assert call.dialog.next_deadline == 8.0 + IvrSettings().final_wait


# ----------------------------------------------------------------------------- ASR unavailable


def test_without_asr_the_caller_hears_the_keypad_greeting_then_goes_to_110() -> None:
    call = Call(make_dialog())
    call.send(AsrUnavailable(0.0))
    call.start(0.0)
    assert call.plays == ["greeting_keypad"]
    call.finish_prompt(5.0)
    assert (call.route.route, call.route.reason) == ("110", "asr-unavailable")


def test_asr_lost_during_the_greeting_switches_to_the_keypad_greeting() -> None:
    call = Call(make_dialog())
    call.start(0.0)
    out = call.send(AsrUnavailable(1.0))
    assert out[0] == StopPlayback()
    assert call.plays == ["greeting", "greeting_keypad"]
    call.key("1", 2.0)
    assert (call.route.route, call.route.reason) == ("110", "dtmf-1")


def test_asr_lost_mid_description_goes_to_110_with_what_was_heard() -> None:
    call = greeted_call()
    call.send(SpeechStarted(6.0))
    call.send(Partial("有辆车 堵住", 6.5))
    call.send(AsrUnavailable(7.0))
    assert (call.route.route, call.route.reason) == ("110", "asr-unavailable")
    assert call.route.transcript == "有辆车 堵住"


def test_asr_lost_during_confirmation_never_diverts() -> None:
    call, at = confirming_call()
    call.send(AsrUnavailable(at + 1.0))
    assert (call.route.route, call.route.reason) == ("110", "asr-unavailable")


# ----------------------------------------------------------------------------- records


def test_every_state_change_is_logged_with_its_reason_and_time() -> None:
    call, at = confirming_call()
    call.finish_prompts(at)
    call.tick_until(100.0)
    path = [(log.data["from"], log.data["to"]) for log in call.logs("transition")]
    assert path == [
        ("waiting", "greeting"),
        ("greeting", "listening"),
        ("listening", "describing"),
        ("describing", "confirming"),
        ("confirming", "confirm_window"),
        ("confirm_window", "routed"),
    ]
    assert all("why" in log.data and "at" in log.data for log in call.logs("transition"))
    assert call.logs("decision")


def test_route_announces_the_matching_transfer_prompt() -> None:
    call = greeted_call()
    call.send(Partial("着火了", 6.0))
    assert call.route.announce == "transfer_119"


def test_dialog_refuses_a_prompt_catalog_missing_required_prompts() -> None:
    with pytest.raises(ValueError, match="greeting"):
        make_dialog(catalog=PromptCatalog({"reprompt": "请说"}))


def test_dialog_refuses_an_unknown_consent_mode() -> None:
    with pytest.raises(ValueError, match="consent"):
        make_dialog("maybe")


def test_ivr_settings_refuse_a_key_that_is_both_emergency_and_consent() -> None:
    with pytest.raises(ValueError, match="both emergency and consent"):
        IvrSettings(consent_keys=["1"])


def test_ivr_settings_keep_key_1_as_an_emergency_key() -> None:
    with pytest.raises(ValueError, match="'1' must stay"):
        IvrSettings(emergency_keys=["0"])


def test_logs_are_plain_data() -> None:
    call, at = confirming_call()
    call.key("1", at + 1)
    for log in call.of(Log):
        assert isinstance(log.kind, str) and isinstance(log.data, dict)
