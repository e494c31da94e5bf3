"""The closed loop over the real edges: a diverted call's ticket, its feedback, and the
automated satisfaction call placed through AMI into the shipped survey context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.tickets.loop import Step
from gateway.tickets.model import LoopState
from tests.e2e.conftest import RigFactory
from tests.e2e.test_call_flows import CAR, _wait_until_async, place


async def test_feedback_then_survey_call_through_ami_closes_the_loop(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig(scripts={"13800000201": CAR})
    assert rig.double is not None and rig.gateway is not None
    call = await place(rig, "13800000201", CAR)
    await call.wait_for_context("route-12345", timeout=15)
    store, keeper = rig.gateway.store, rig.gateway.keeper
    ticket_id = call.variables["GW_TICKET"]
    await _wait_until_async(lambda: _exists(store, ticket_id))

    for step, detail in (
        (Step.TRANSFER, {}),
        (Step.ACKNOWLEDGE, {}),
        (Step.FEEDBACK, {"outcome": "resolved"}),
    ):
        result = await store.transition(ticket_id, step, actor="nanchang-12345", detail=detail)
        assert result.applied, result
    rig.double.set_survey_answer("13800000201", "1")
    later = datetime.now(UTC) + timedelta(hours=rig.settings.loop.followup_after_hours + 1)
    report = await keeper.sweep(later)
    assert ticket_id in report.surveys_placed

    async def followed_up() -> bool:
        ticket = await store.get_ticket(ticket_id)
        return ticket is not None and ticket.state in (LoopState.FOLLOWED_UP, LoopState.CLOSED)

    await _wait_until_async(followed_up)
    ticket = await store.get_ticket(ticket_id)
    assert ticket is not None and ticket.satisfaction == "satisfied"


async def _exists(store, ticket_id: str) -> bool:  # type: ignore[no-untyped-def]
    return await store.get_ticket(ticket_id) is not None
