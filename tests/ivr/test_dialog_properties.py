"""Properties of the dialog over random event sequences (hypothesis).

Whatever callers, ASR and timers do, in whatever order: the dialog ends in exactly one
Route or one RaiseCallback, says nothing after it, never passes its time budget, and
never diverts a caller who pressed 1 or whose words hold an emergency.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from gateway.settings import DIVERTED_ROUTES, IvrSettings
from ivr.dialog import Dialog
from ivr.dialog_messages import (
    AsrUnavailable,
    CallerHungUp,
    Dtmf,
    Event,
    Final,
    Log,
    Partial,
    Play,
    PromptFinished,
    RaiseCallback,
    Route,
    SpeechStarted,
    SpeechStopped,
    Started,
    Tick,
)
from ivr.triage import DEFAULT_RULES, load_triage
from ivr.triage.result import EMERGENCY_ROUTES, TriageResult
from tests.ivr.support import CATALOG, Call, KeywordTriage

SETTINGS = IvrSettings()
BUDGET = SETTINGS.time_budget
PHRASES = [
    "",
    "嗯",
    "好的",
    "可以",
    "不要",
    "不用了",
    "我要报警",
    "救命",
    "着火了",
    "他打我",
    "我电动车被偷了",
    "楼上邻居天天吵",
    "我们小区路灯坏了",
    "有辆车堵住我车库门口，打不通车主电话",
    "有辆车堵住我车库门口，打不通车主电话",
    "一辆白色面包车挡住了我家大门，车上没留电话",
    "楼上邻居天天吵",
    "隔壁装修噪音太大",
    "有人拿刀",
]
# Phrases no diverted call may hold, checked by plain substring (not by either classifier).
EMERGENCY_PHRASES = ("救命", "有人拿刀", "他打我", "着火了", "我要报警")
assert all(p in PHRASES for p in EMERGENCY_PHRASES)  # the generator does say them
KEYS = list("0123456789*#")
DIVERTIBLE = [
    "有辆车堵住我车库门口，打不通车主电话",
    "一辆白色面包车挡住了我家大门，车上没留电话",
    "楼上邻居天天吵",
]


def _real_triage() -> tuple[Callable[[str], TriageResult], Callable[[str], object]]:
    triage = load_triage(DEFAULT_RULES)  # a broken triage package fails here, loudly
    return triage.decide, triage.decide_partial


REAL = _real_triage()
CLASSIFIERS = ["keywords", "real"]


def _classifiers(kind: str) -> tuple[Callable[[str], TriageResult], Callable[[str], object]]:
    if kind == "real":
        return REAL
    keywords = KeywordTriage()
    return keywords.final, keywords.partial


def _next_events(data: st.DataObject, call: Call, now: float) -> list[Event]:
    """One caller/ASR/timer action; "say" is a whole utterance, the way callers talk."""
    kind = data.draw(
        st.sampled_from(
            [
                "finish",
                "finish",
                "finish",
                "tick",
                "tick",
                "say",
                "say",
                "say",
                "partial",
                "key",
                "start",
                "stop",
                "final",
                "asr",
                "hangup",
                "stale",
            ]
        )
    )
    if kind == "finish" and call.playing is not None:
        prompt, call.playing = call.playing, None
        return [PromptFinished(prompt, now)]
    if kind == "tick" and call.dialog.next_deadline is not None:
        return [Tick(max(now, call.dialog.next_deadline))]
    if kind == "say":
        text = data.draw(st.sampled_from(PHRASES))
        confidence = data.draw(st.sampled_from([0.2, 0.7, 0.95]))
        return [
            SpeechStarted(now),
            Partial(text[: len(text) // 2], now + 0.5),
            SpeechStopped(now + 1.0),
            Final(text, confidence, now + 1.3),
        ]
    if kind == "final":
        text = data.draw(st.sampled_from(PHRASES))
        return [Final(text, data.draw(st.sampled_from([0.2, 0.7, 0.95])), now)]
    if kind == "partial":
        return [Partial(data.draw(st.sampled_from(PHRASES)), now)]
    if kind == "key":
        return [Dtmf(data.draw(st.sampled_from(KEYS)), now)]
    if kind == "start":
        return [SpeechStarted(now)]
    if kind == "asr" and data.draw(st.integers(0, 5)) == 0:
        return [AsrUnavailable(now)]
    if kind == "hangup" and data.draw(st.integers(0, 8)) == 0:
        return [CallerHungUp(now)]
    if kind == "stale":
        prompt = data.draw(st.sampled_from(list(CATALOG)))
        if prompt == call.playing:  # not stale after all: it really finished
            call.playing = None
        return [PromptFinished(prompt, now)]
    return [SpeechStopped(now)]


def _run(data: st.DataObject, kind: str, consent: str) -> tuple[Call, list[Event]]:
    final, partial = _classifiers(kind)
    dialog = Dialog(
        SETTINGS,
        consent=consent,  # type: ignore[arg-type]
        classify_final=final,
        classify_partial=partial,  # type: ignore[arg-type]
        prompts=CATALOG,
    )
    call = Call(dialog)
    events: list[Event] = []
    if data.draw(st.integers(0, 9)) == 0:
        events.append(AsrUnavailable(0.0))
        call.send(events[-1])
    events.append(Started(0.0))
    call.send(events[-1])
    now = 0.0
    if data.draw(st.booleans()):  # reach the confirmation often: it is where diversion happens
        text = data.draw(st.sampled_from(DIVERTIBLE))
        prefix = [
            PromptFinished("greeting", 3.0),
            SpeechStarted(4.0),
            SpeechStopped(6.0),
            Final(text, 0.95, 6.3),
        ]
        for event in prefix:
            if call.playing == getattr(event, "prompt_id", None):
                call.playing = None
            events.append(event)
            call.send(event)
        now = 6.3
    for _ in range(data.draw(st.integers(0, 40))):
        if call.dialog.finished:
            break
        now += data.draw(st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.5, 4.0]))
        for event in _next_events(data, call, now):
            now = max(now, event.now)
            events.append(event)
            call.send(event)
            deadline = call.dialog.next_deadline
            assert deadline is None or deadline <= BUDGET
    if not call.dialog.finished:
        events.append(Tick(now + 1000.0))  # the orchestrator's budget timer, however late
        call.send(events[-1])
    return call, events


@pytest.mark.parametrize("consent", ["opt_out", "opt_in"])
@pytest.mark.parametrize("kind", CLASSIFIERS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_call_ends_in_exactly_one_route_or_callback_and_then_stays_silent(
    data: st.DataObject, kind: str, consent: str
) -> None:
    call, _ = _run(data, kind, consent)
    ends = [i for i, c in enumerate(call.commands) if isinstance(c, Route | RaiseCallback)]
    assert len(ends) == 1, call.commands
    assert all(isinstance(c, Log) for c in call.commands[ends[0] + 1 :])
    assert call.dialog.finished and call.dialog.next_deadline is None
    more = call.send(Dtmf("1", 5000.0)) + call.send(Tick(5001.0)) + call.send(CallerHungUp(5002))
    assert all(isinstance(c, Log) for c in more)


@pytest.mark.parametrize("consent", ["opt_out", "opt_in"])
@pytest.mark.parametrize("kind", CLASSIFIERS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_route_is_ever_decided_after_the_time_budget(
    data: st.DataObject, kind: str, consent: str
) -> None:
    call, _ = _run(data, kind, consent)
    for route in call.routes:
        assert route.at <= BUDGET, route


@pytest.mark.parametrize("consent", ["opt_out", "opt_in"])
@pytest.mark.parametrize("kind", CLASSIFIERS)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_diverted_call_was_confirmed_and_holds_no_key_1_and_no_emergency(
    data: st.DataObject, kind: str, consent: str
) -> None:
    call, events = _run(data, kind, consent)
    if not call.routes:
        note("ended in a callback")
        return
    route = call.route
    note(f"route {route.route} ({route.reason})")
    before = events[: next(i for i, e in enumerate(events) if e.now >= route.at) + 1]
    pressed = {e.digit for e in events if isinstance(e, Dtmf) and e.now <= route.at}
    if pressed & set(SETTINGS.emergency_keys):
        assert route.route == "110"
    if route.route not in DIVERTED_ROUTES:
        return
    assert any(p.startswith("confirm_") for p in call.plays)
    assert not pressed & set(SETTINGS.emergency_keys)
    final, partial = _classifiers(kind)
    compact = re.sub(r"\s+", "", route.transcript)
    # Independent of the classifiers: no emergency phrase in what was diverted, nor in any
    # final text the caller said before the call left (the dialog cannot have lost one).
    said = [e.text for e in events if isinstance(e, Final) and e.now < route.at]
    heard = [re.sub(r"\s+", "", text) for text in said]
    for phrase in EMERGENCY_PHRASES:
        assert phrase not in compact, before
        assert not any(phrase in text for text in heard), before
    assert not any(w in compact for w in SETTINGS.person_words)
    assert final(route.transcript).route in DIVERTED_ROUTES
    cue = partial(route.transcript)
    assert cue is None or getattr(cue, "route", None) not in EMERGENCY_ROUTES
    # The caller was asked before any yes counted, and heard the question out before
    # silence counted as no objection.
    question = "confirm_opt_in" if consent == "opt_in" else "confirm_opt_out"
    asked = [
        i for i, c in enumerate(call.commands) if isinstance(c, Play) and c.prompt_id == question
    ]
    assert asked and asked[0] < call.commands.index(route), before
    if route.reason == "no-objection":
        assert any(isinstance(e, PromptFinished) and e.prompt_id == question for e in before), (
            before
        )
    if consent == "opt_in":
        said_yes = any(w in compact for w in SETTINGS.consent_words)
        keyed_yes = pressed & set(SETTINGS.consent_keys)
        assert route.reason == "confirmed" and (said_yes or keyed_yes), before


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_plays_never_overlap_and_every_prompt_exists(data: st.DataObject) -> None:
    call, _ = _run(data, "keywords", "opt_out")  # Call.send asserts no Play over a Play
    for play in call.of(Play):
        assert play.text == CATALOG[play.prompt_id]
