"""Ticket ids handed out by the store never repeat, across concurrent allocations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from gateway.store import TicketStore


async def test_store_allocates_unique_sequenced_ids(store: TicketStore) -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    ids = await asyncio.gather(*(store.allocate_ticket_id(now) for _ in range(200)))
    assert len(set(ids)) == 200
    assert sorted(ids)[0] == "1129-0000001"
    assert all(len(i) == len("1129-0000001") for i in ids)
