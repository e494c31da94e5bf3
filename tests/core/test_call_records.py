"""The records a call leaves behind, around its hand-off (real Redis)."""

from __future__ import annotations

import asyncio
from datetime import time
from typing import Any

from gateway.call_records import CallRecords
from gateway.call_session import CallInfo
from gateway.routing import RoutingPolicy
from gateway.trunks import TrunkBoard
from tests.store.support import settings_for, store_for


class SlowSave:
    """The real store, with the ticket save held until the test lets it go."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.saving = asyncio.Event()
        self.go_on = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def save_or_spool(self, ticket: Any) -> bool:
        self.saving.set()
        await self.go_on.wait()
        return bool(await self.store.save_or_spool(ticket))


async def test_a_fall_back_reported_while_the_ticket_is_being_saved_is_recorded(
    redis_server: Any, redis_client: Any
) -> None:
    """A refusing trunk sends the caller back to 110 in milliseconds, often before the
    ticket's save is over: the ticket must still end on 110 (it was lost before)."""
    settings = settings_for(redis_server.url)
    store = store_for(settings)
    slow = SlowSave(store)
    board = TrunkBoard({name: name for name in settings.trunks})
    for name in settings.trunks:
        board.set_reachable(name, True)
    records = CallRecords(slow, RoutingPolicy(settings), board, lambda: time(12))  # type: ignore[arg-type]
    info = CallInfo(call_id="c-1", channel="PJSIP/carrier-1", city="nanchang", caller="13800000001")
    destination, ticket_id = await records.prepare_hand_off(
        info=info,
        route="12345",
        category="move_car",
        confidence=0.9,
        reason="confirmed",
        transcript="有车堵门",
        triage=None,
    )
    assert destination.route == "12345"
    saving = asyncio.create_task(records.handed_off(info, ticket_id, destination, 0.01, 5.0))
    await slow.saving.wait()
    await records.came_back_to_110(ticket_id, "trunk-CONGESTION")  # arrives mid-save
    slow.go_on.set()
    await saving
    ticket = await store.get_ticket(ticket_id)
    assert ticket is not None and ticket.route == "110"
    assert "trunk-CONGESTION" in ticket.route_reason
    await store.close()
