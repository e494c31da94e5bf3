from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from gateway.outbox import OutboxWorker
from gateway.settings import WebhookSettings
from gateway.store import TicketStore
from gateway.tickets.model import LoopState
from tests.store.receiver import Receiver
from tests.store.support import T0, settings_for, store_for, ticket_fields


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    yield r
    await r.close()


async def _setup(redis_server, receiver, **webhook_overrides):
    url = await receiver.start()
    settings = settings_for(redis_server.url, receiver_url=url)
    hooks = settings.webhooks.model_copy(update=webhook_overrides)
    store = store_for(settings)
    return store, OutboxWorker(store, hooks)


async def _next_due(store: TicketStore):
    due = await store.client.zrange(store.keys.outbox_due, 0, 0, withscores=True)
    return due[0][1] if due else None


async def test_ticket_is_delivered_signed_once_and_becomes_transferred(
    redis_server, redis_client, receiver
):
    store, worker = await _setup(redis_server, receiver)
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    assert await worker.run_once(T0) == 1
    assert receiver.keys == [f"{ticket.id}:ticket.created"] and receiver.bad_signatures == 0
    body = receiver.received[0]["body"]
    assert body["ticket"]["schema"] == "gw.ticket/1" and body["ticket"]["caller"] == "138****5678"
    assert (await store.get_ticket(ticket.id)).state is LoopState.TRANSFERRED
    assert await worker.run_once(T0 + timedelta(hours=1)) == 0
    await worker.stop()
    await store.close()


async def test_500_is_retried_with_backoff_and_dead_lettered_after_max_attempts(
    redis_server, redis_client, receiver
):
    store, worker = await _setup(redis_server, receiver, max_attempts=3)
    receiver.mode = "500"
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    now = T0
    for _ in range(3):
        assert await worker.run_once(now) == 1
        due = await _next_due(store)
        if due is None:
            break
        assert due > now.timestamp()  # backed off, not hammered
        now = now.__class__.fromtimestamp(due, tz=now.tzinfo)
    dead = await worker.queue.dead_letters()
    assert [d["ticket_id"] for d in dead] == [ticket.id]
    assert dead[0]["attempts"] == "3" and "HTTP 500" in dead[0]["last_error"]
    assert (await store.get_ticket(ticket.id)).state is LoopState.ACCEPTED  # never marked
    assert (await store.alerts())[0]["kind"] == "dead_letter"
    receiver.mode = "ok"
    assert await worker.queue.requeue(dead[0]["id"], now)
    await worker.run_once(now)
    assert (await store.get_ticket(ticket.id)).state is LoopState.TRANSFERRED
    await worker.stop()
    await store.close()


async def test_receiver_down_for_an_hour_then_back_gets_the_ticket(
    redis_server, redis_client, receiver
):
    store, worker = await _setup(redis_server, receiver)  # default: 20 attempts, 1..600 s
    receiver.mode = "down"
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    now, tries = T0, 0
    while now < T0 + timedelta(hours=1):
        tries += await worker.run_once(now)
        now = now.__class__.fromtimestamp(await _next_due(store), tz=now.tzinfo)
    receiver.mode = "ok"
    assert await worker.run_once(now) == 1
    assert receiver.distinct_keys == {f"{ticket.id}:ticket.created"}
    assert (await store.get_ticket(ticket.id)).state is LoopState.TRANSFERRED
    assert 5 < tries < 20
    await worker.stop()
    await store.close()


async def test_timeout_and_garbage_replies_are_retried_and_receiver_dedupes(
    redis_server, redis_client, receiver
):
    store, worker = await _setup(redis_server, receiver)
    worker.settings = worker.settings.model_copy(
        update={
            "targets": {
                k: v.model_copy(update={"timeout": 0.2}) for k, v in worker.settings.targets.items()
            }
        }
    )
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    receiver.mode = "hang-once"
    await worker.run_once(T0)
    assert (await store.get_ticket(ticket.id)).state is LoopState.ACCEPTED
    receiver.mode = "garbage"
    await worker.run_once(T0 + timedelta(seconds=1))
    assert (await store.get_ticket(ticket.id)).state is LoopState.ACCEPTED
    receiver.mode = "ok"
    await worker.run_once(T0 + timedelta(seconds=10))
    assert len(receiver.keys) == 3 and len(receiver.distinct_keys) == 1
    assert (await store.get_ticket(ticket.id)).state is LoopState.TRANSFERRED
    await worker.stop()
    await store.close()


async def test_gateway_killed_mid_send_delivers_after_restart(redis_server, redis_client, receiver):
    store, worker = await _setup(redis_server, receiver, lease_seconds=30)
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    receiver.mode = "hang"
    sending = asyncio.create_task(worker.run_once(T0))
    await receiver.got_one.wait()
    sending.cancel()  # the process dies while waiting for the reply
    with pytest.raises(asyncio.CancelledError):
        await sending
    await worker.stop()
    await store.close()
    receiver.mode = "ok"
    restarted = settings_for(redis_server.url, receiver_url=str(receiver.server.make_url("/hook")))
    store2 = store_for(restarted)
    worker2 = OutboxWorker(store2, restarted.webhooks)
    assert await worker2.run_once(T0 + timedelta(seconds=10)) == 0  # lease still held
    assert await worker2.run_once(T0 + timedelta(seconds=31)) == 1
    assert receiver.distinct_keys == {f"{ticket.id}:ticket.created"}
    assert (await store2.get_ticket(ticket.id)).state is LoopState.TRANSFERRED
    await worker2.stop()
    await store2.close()


async def test_no_configured_receiver_goes_straight_to_the_dead_letter_list(
    redis_server, redis_client
):
    settings = settings_for(redis_server.url, webhooks=WebhookSettings())
    store = store_for(settings)
    ticket = await store.create_ticket(
        now=T0, **ticket_fields(route="mediation", category="neighbour")
    )
    worker = OutboxWorker(store, settings.webhooks)
    await worker.run_once(T0)
    dead = await worker.queue.dead_letters()
    assert dead[0]["ticket_id"] == ticket.id and "no webhook target" in dead[0]["last_error"]
    await worker.stop()
    await store.close()


async def test_started_worker_delivers_without_being_driven(redis_server, redis_client, receiver):
    store, worker = await _setup(redis_server, receiver)
    worker.clock = lambda: T0
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    await worker.start()
    worker.wake()
    await asyncio.wait_for(receiver.got_one.wait(), 5)
    # The receiver answers before the worker records the transfer: poll Redis (its contents
    # raise no event), bounded at 5 s so a loaded machine is not a failure.
    async with asyncio.timeout(5):
        while (await store.get_ticket(ticket.id)).state is not LoopState.TRANSFERRED:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert (await store.get_ticket(ticket.id)).state is LoopState.TRANSFERRED
    await worker.stop()
    await store.close()
