from __future__ import annotations

from datetime import timedelta

from gateway.settings import LoopSettings
from gateway.tickets.loop import Step, apply
from gateway.tickets.repeat import PriorCall, decide_repeat
from gateway.tickets.sla import breaches
from tests.tickets.helpers import T0, make_ticket

LOOP = LoopSettings(repeat_window_hours=72, abusive_numbers=["13000000000"])


def prior(
    tid,
    category="move_car",
    route="12345",
    state="transferred",
    outcome="",
    hours_ago=2,
    satisfaction="",
):
    return PriorCall(
        tid, category, route, state, outcome, satisfaction, T0 - timedelta(hours=hours_ago)
    )


def test_same_number_same_matter_in_window_is_a_repeat_and_links_tickets():
    info = decide_repeat(
        "13812345678", "noise", T0, [prior("a", "noise", state="closed", outcome="resolved")], LOOP
    )
    assert info.repeat and info.linked == ("a",)
    assert not info.send_to_110


def test_repeat_about_unresolved_diverted_matter_goes_to_110():
    info = decide_repeat("13812345678", "move_car", T0, [prior("a")], LOOP)
    assert info.send_to_110
    assert "unresolved" in info.reason and "repeat-unresolved" in info.flags


def test_unsatisfied_follow_up_counts_as_unresolved():
    p = prior("a", state="closed", outcome="resolved", satisfaction="unsatisfied")
    assert decide_repeat("138", "move_car", T0, [p], LOOP).send_to_110


def test_other_matter_or_outside_window_is_not_a_repeat():
    assert not decide_repeat("138", "noise", T0, [prior("a")], LOOP).repeat
    assert not decide_repeat("138", "move_car", T0, [prior("a", hours_ago=100)], LOOP).repeat


def test_listed_number_warns_but_the_decision_never_blocks():
    info = decide_repeat("13000000000", "unclear", T0, [], LOOP)
    assert info.abuse_warning and info.abuse_score == 1.0
    assert not info.send_to_110


def test_many_empty_calls_raise_the_abuse_score():
    calls = [prior(str(i), "unclear", route="110", hours_ago=i / 10) for i in range(8)]
    info = decide_repeat("13912345678", "unclear", T0, calls, LOOP)
    assert info.abuse_warning


def test_ack_sla_breach_only_when_not_acknowledged_in_time():
    loop = LoopSettings(ack_sla_minutes=30, feedback_sla_days=3)
    t = make_ticket()
    assert breaches(t, T0 + timedelta(minutes=29), loop) == []
    assert [b.kind for b in breaches(t, T0 + timedelta(minutes=31), loop)] == ["ack"]
    acked = apply(t, Step.ACKNOWLEDGE, actor="c", at=T0 + timedelta(minutes=5)).ticket
    assert breaches(acked, T0 + timedelta(minutes=31), loop) == []
    assert [b.kind for b in breaches(acked, T0 + timedelta(days=3, minutes=1), loop)] == [
        "feedback"
    ]


def test_tickets_kept_on_110_have_no_loop_sla():
    t = make_ticket(route="110", category="theft")
    assert breaches(t, T0 + timedelta(days=30), LoopSettings()) == []
