"""Redis dies and comes back while the call path uses the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from gateway.embedded_redis import EmbeddedRedis
from gateway.store import StoreUnavailable
from gateway.tickets.create import new_ticket
from tests.store.support import T0, settings_for, store_for, ticket_fields


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


async def _persist_on_shutdown(store) -> None:
    # production Redis runs with persistence; here SIGTERM saves an RDB the restart loads
    await store.client.config_set("save", "3600 1")


async def test_dead_redis_fails_fast_with_a_typed_error_and_store_reconnects(own_redis):
    store = store_for(settings_for(own_redis.url))
    await _persist_on_shutdown(store)
    kept = await store.create_ticket(now=T0, **ticket_fields())
    own_redis.stop()
    for operation in (
        lambda: store.create_ticket(now=T0, **ticket_fields()),
        lambda: store.lookup_caller("13812345678", "move_car", T0),
        lambda: store.append_call_event("c1", "answered", {}),
        lambda: store.get_ticket(kept.id),
    ):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await operation()
        assert time.monotonic() - started < 2.0  # bounded by op_timeout, never hangs
    assert await store.events.publish("call", {"x": 1}) is None  # best effort, no raise
    assert not await store.ping()
    own_redis.start()
    assert await store.ping()
    assert (await store.get_ticket(kept.id)) == kept
    await store.create_ticket(now=T0, **ticket_fields())
    await store.close()


async def test_restart_mid_stream_loses_no_acknowledged_ticket(own_redis):
    store = store_for(settings_for(own_redis.url))
    await _persist_on_shutdown(store)
    acknowledged: list[str] = []
    refused: list[str] = []
    restart_begins = asyncio.Event()
    restart_done = asyncio.Event()
    after_restart = 0

    async def call_path() -> None:
        nonlocal after_restart
        for i in range(100_000):
            ticket = new_ticket(now=T0, **ticket_fields(call_id=f"call-{i}"))
            try:
                saved = await store.save_new_ticket(ticket)
            except StoreUnavailable:
                refused.append(ticket.id)  # the call path routes on with the id it made
                await asyncio.sleep(0.005)
                continue
            acknowledged.append(saved.id)
            if len(acknowledged) == 50:
                restart_begins.set()
            if restart_done.is_set():
                after_restart += 1
                if after_restart == 20:
                    return
            await asyncio.sleep(0)

    async def restart() -> None:
        await restart_begins.wait()
        await asyncio.to_thread(own_redis.restart)
        restart_done.set()

    await asyncio.wait_for(asyncio.gather(call_path(), restart()), 30)
    assert after_restart == 20  # the same client reconnected by itself
    for ticket_id in acknowledged:
        assert await store.get_ticket(ticket_id) is not None, ticket_id
    await store.close()


async def test_ticket_made_while_redis_is_down_is_saved_when_it_returns(own_redis):
    store = store_for(settings_for(own_redis.url))
    own_redis.stop()
    ticket = new_ticket(now=T0, **ticket_fields())
    assert not await store.save_or_spool(ticket)
    with pytest.raises(StoreUnavailable):
        await store.flush_spool()
    assert list(store.spool) == [ticket]
    own_redis.start()
    assert await store.flush_spool() == 1
    assert await store.get_ticket(ticket.id) == ticket
    assert not store.spool
    await store.close()


async def test_callback_task_and_fallback_while_redis_is_down_are_kept(own_redis):
    store = store_for(settings_for(own_redis.url))
    ticket = new_ticket(now=T0, **ticket_fields())
    own_redis.stop()
    await store.save_or_spool(ticket)
    task = await store.create_callback_task(
        call_id="c9", city="nanchang", caller="13812345678", heard="救", at=T0
    )
    assert task["status"] == "spooled"
    moved = await store.mark_fallback(ticket.id, "trunk-BUSY", now=T0)
    assert moved.route == "110"
    own_redis.start()
    assert await store.flush_spool() == 2
    assert [t["id"] for t in await store.list_callbacks()] == [task["id"]]
    saved = await store.get_ticket(ticket.id)
    assert saved.route == "110" and saved.intended_route == "12345"
    assert (await store.stats(T0.date(), T0.date()))[0].fallback_110 == 1
    await store.close()
