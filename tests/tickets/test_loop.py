from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.tickets.loop import Step, Verdict, apply
from gateway.tickets.model import LoopState
from tests.tickets.helpers import T0, make_ticket


def step(ticket, s, minutes=1, **detail):
    return apply(
        ticket, s, actor="centre:nc12345", at=T0 + timedelta(minutes=minutes), detail=detail
    )


def test_full_loop_records_each_state_with_time_and_actor():
    t = make_ticket()
    t = step(t, Step.TRANSFER).ticket
    t = step(t, Step.ACKNOWLEDGE, 2).ticket
    t = step(t, Step.FEEDBACK, 3, outcome="resolved").ticket
    t = step(t, Step.FOLLOW_UP, 4, satisfaction="satisfied").ticket
    t = step(t, Step.CLOSE, 5).ticket
    assert [e.state for e in t.timeline] == [
        "accepted",
        "transferred",
        "handling",
        "feedback",
        "followed_up",
        "closed",
    ]
    assert t.timeline[2].actor == "centre:nc12345"
    assert t.timeline[3].at == T0 + timedelta(minutes=3)
    assert t.outcome == "resolved" and t.satisfaction == "satisfied"


def test_feedback_before_transfer_is_refused_with_a_reason():
    result = step(make_ticket(), Step.FEEDBACK, outcome="resolved")
    assert result.verdict is Verdict.REFUSED
    assert "accepted" in result.reason
    assert result.ticket.state is LoopState.ACCEPTED


def test_follow_up_before_feedback_is_refused():
    t = step(make_ticket(), Step.TRANSFER).ticket
    assert step(t, Step.FOLLOW_UP, satisfaction="satisfied").verdict is Verdict.REFUSED


def test_repeated_acknowledge_is_a_noop_and_changes_nothing():
    t = step(step(make_ticket(), Step.TRANSFER).ticket, Step.ACKNOWLEDGE).ticket
    again = step(t, Step.ACKNOWLEDGE, 9)
    assert again.verdict is Verdict.NOOP
    assert again.ticket is t


def test_late_duplicate_acknowledge_after_feedback_is_a_noop():
    t = step(make_ticket(), Step.TRANSFER).ticket
    t = step(t, Step.ACKNOWLEDGE).ticket
    t = step(t, Step.FEEDBACK, outcome="resolved").ticket
    assert step(t, Step.ACKNOWLEDGE).verdict is Verdict.NOOP


def test_duplicate_feedback_keeps_the_first_outcome():
    t = step(step(make_ticket(), Step.TRANSFER).ticket, Step.FEEDBACK, outcome="resolved").ticket
    second = step(t, Step.FEEDBACK, outcome="unresolved")
    assert second.verdict is Verdict.NOOP
    assert second.ticket.outcome == "resolved"


def test_acknowledge_racing_ahead_of_the_webhook_reply_implies_transfer():
    t = step(make_ticket(), Step.ACKNOWLEDGE).ticket
    assert [e.state for e in t.timeline] == ["accepted", "transferred", "handling"]
    assert t.timeline[1].detail == {"implied_by": "acknowledge"}
    assert step(t, Step.TRANSFER).verdict is Verdict.NOOP


def test_feedback_needs_a_known_outcome():
    t = step(make_ticket(), Step.TRANSFER).ticket
    result = step(t, Step.FEEDBACK, outcome="done-ish")
    assert result.verdict is Verdict.REFUSED
    assert "outcome" in result.reason


@pytest.mark.parametrize("terminal", [Step.CLOSE, Step.ESCALATE])
def test_no_steps_after_the_loop_ended(terminal):
    t = step(make_ticket(), terminal).ticket
    assert step(t, Step.TRANSFER).verdict is Verdict.REFUSED
    assert step(t, terminal).verdict is Verdict.NOOP


def test_offline_ticket_id_is_short_digits_and_apart_from_sequenced_ids():
    t = make_ticket(ticket_id=None)  # made without the store: the offline form
    head, tail = t.id.split("-")
    assert head == "1129" and tail.isdigit() and len(tail) == 8 and tail[0] == "9"


def test_sequenced_ticket_id_is_mmdd_and_seven_digits():
    from datetime import UTC, datetime

    from gateway.tickets.model import sequenced_ticket_id

    assert sequenced_ticket_id(datetime(2026, 11, 29, tzinfo=UTC), 42) == "1129-0000042"


def test_ticket_ids_carry_the_day_of_china_standard_time_across_midnight():
    """A call at 03:48 in 南昌 is 19:48 UTC the day before: its ticket is numbered for
    the caller's day, the same day the statistics count it on."""
    from datetime import UTC, datetime

    from gateway.tickets.model import new_ticket_id, sequenced_ticket_id
    from gateway.tickets.stats import stats_day

    before_midnight_utc = datetime(2026, 12, 2, 19, 48, tzinfo=UTC)  # 12-03 03:48 CST
    assert sequenced_ticket_id(before_midnight_utc, 1) == "1203-0000001"
    assert new_ticket_id(before_midnight_utc).startswith("1203-9")
    assert f"{stats_day(before_midnight_utc):%m%d}" == "1203"
    late_evening_cst = datetime(2026, 12, 3, 15, 59, tzinfo=UTC)  # 12-03 23:59 CST
    assert sequenced_ticket_id(late_evening_cst, 2) == "1203-0000002"
