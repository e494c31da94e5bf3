from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from gateway.settings import LoopSettings
from gateway.store import LoopKeeper, TicketStore
from gateway.tickets.loop import Step, Verdict
from gateway.tickets.model import LoopState
from tests.store.support import T0, ticket_fields


class FakeOriginator:
    """Stands in for the AMI client: records calls, answers as told."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    async def originate(
        self, number: str, context: str = "survey", variables: Mapping[str, str] | None = None
    ) -> bool:
        self.calls.append((number, context, dict(variables or {})))
        return self.answers.pop(0) if self.answers else False


async def _with_feedback(store: TicketStore) -> str:
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    await store.transition(ticket.id, Step.ACKNOWLEDGE, actor="centre:a", now=T0)
    await store.transition(
        ticket.id, Step.FEEDBACK, actor="centre:a", now=T0, detail={"outcome": "resolved"}
    )
    return ticket.id


async def test_unacknowledged_ticket_raises_alert_and_goes_back_to_110(store: TicketStore):
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    keeper = LoopKeeper(store, LoopSettings(ack_sla_minutes=30))
    early = await keeper.sweep(T0 + timedelta(minutes=29))
    assert early.alerts == []
    report = await keeper.sweep(T0 + timedelta(minutes=31))
    assert report.alerts == [f"ack:{ticket.id}"] and report.escalated == [ticket.id]
    stored = await store.get_ticket(ticket.id)
    assert stored.state is LoopState.ESCALATED
    assert (await store.alerts())[0]["kind"] == "sla_breach"
    assert (await store.list_callbacks())[0]["reason"].startswith(f"escalated {ticket.id}")
    assert (await store.stats(T0.date(), T0.date()))[0].sla_ack == 1
    again = await keeper.sweep(T0 + timedelta(minutes=40))
    assert again.alerts == []  # one alert per step


async def test_acknowledged_ticket_without_feedback_breaches_after_days(store: TicketStore):
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    await store.transition(ticket.id, Step.ACKNOWLEDGE, actor="centre:a", now=T0)
    keeper = LoopKeeper(store, LoopSettings(feedback_sla_days=3, escalate_overdue=False))
    assert (await keeper.sweep(T0 + timedelta(days=1))).alerts == []
    report = await keeper.sweep(T0 + timedelta(days=3, minutes=1))
    assert report.alerts == [f"feedback:{ticket.id}"] and report.escalated == []
    assert (await store.get_ticket(ticket.id)).state is LoopState.HANDLING


async def test_survey_after_feedback_and_result_closes_the_loop(store: TicketStore):
    ticket_id = await _with_feedback(store)
    originator = FakeOriginator([True])
    keeper = LoopKeeper(store, LoopSettings(followup_after_hours=24), originator)
    assert (await keeper.sweep(T0 + timedelta(hours=23))).surveys_placed == []
    report = await keeper.sweep(T0 + timedelta(hours=25))
    assert report.surveys_placed == [ticket_id]
    assert originator.calls == [("13812345678", "survey", {"GW_TICKET": ticket_id})]
    closed = await keeper.survey_result(ticket_id, "1", T0 + timedelta(hours=25))
    assert closed.applied
    stored = await store.get_ticket(ticket_id)
    assert stored.state is LoopState.CLOSED and stored.satisfaction == "satisfied"
    assert (await store.stats(T0.date(), T0.date()))[0].loop_closed == 1
    dup = await keeper.survey_result(ticket_id, "1", T0 + timedelta(hours=26))
    assert dup.verdict is Verdict.NOOP


async def test_unanswered_survey_is_retried_then_listed_for_manual_follow_up(store):
    loop = LoopSettings(followup_after_hours=1, survey_retry_minutes=60, survey_max_attempts=2)
    store.loop = loop
    ticket_id = await _with_feedback(store)
    originator = FakeOriginator([False, False])
    keeper = LoopKeeper(store, loop, originator)
    assert (await keeper.sweep(T0 + timedelta(hours=1))).surveys_failed == [ticket_id]
    assert (await keeper.sweep(T0 + timedelta(hours=1, minutes=30))).surveys_failed == []
    assert (await keeper.sweep(T0 + timedelta(hours=2))).surveys_failed == [ticket_id]
    assert (await keeper.sweep(T0 + timedelta(hours=3))).manual == [ticket_id]
    assert [t.id for t in await store.manual_followups()] == [ticket_id]
    assert len(originator.calls) == 2
    done = await keeper.survey_result(
        ticket_id, 2, T0 + timedelta(hours=4), actor="supervisor:wang"
    )
    assert done.applied and await store.manual_followups() == []
    assert (await store.alerts())[0]["kind"] == "unsatisfied"


async def test_garbage_survey_result_is_refused(store: TicketStore):
    ticket_id = await _with_feedback(store)
    result = await LoopKeeper(store, LoopSettings()).survey_result(ticket_id, "9", T0)
    assert result.verdict is Verdict.REFUSED
    assert (await store.get_ticket(ticket_id)).state is LoopState.FEEDBACK
