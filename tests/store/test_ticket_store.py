from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.store import TicketNotFound, TicketStore
from gateway.tickets.loop import Step, Verdict
from gateway.tickets.model import LoopState
from tests.store.support import T0, ticket_fields


class _Entity:
    def __init__(self, kind, value):
        self.kind, self.value = kind, value


async def test_every_call_gets_a_ticket_readable_back_with_entities(store: TicketStore):
    ticket = await store.create_ticket(
        now=T0, entities=[_Entity("plate", "赣A12345")], **ticket_fields()
    )
    back = await store.get_ticket(ticket.id)
    assert back == ticket
    assert back.entities[0].value == "赣A12345"
    kept = await store.create_ticket(now=T0, **ticket_fields(route="110", category="theft"))
    assert (await store.get_ticket(kept.id)).route == "110"


async def test_colliding_ticket_id_gets_a_fresh_one(store: TicketStore):
    first = await store.create_ticket(now=T0, ticket_id="1129-1111111", **ticket_fields())
    second = await store.create_ticket(now=T0, ticket_id="1129-1111111", **ticket_fields())
    assert first.id == "1129-1111111" and second.id != first.id
    assert await store.get_ticket(second.id) is not None


async def test_loop_steps_are_validated_and_persisted(store: TicketStore):
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    refused = await store.transition(
        ticket.id, Step.FEEDBACK, actor="centre:a", now=T0, detail={"outcome": "resolved"}
    )
    assert refused.verdict is Verdict.REFUSED
    assert (await store.transition(ticket.id, Step.ACKNOWLEDGE, actor="centre:a", now=T0)).applied
    again = await store.transition(ticket.id, Step.ACKNOWLEDGE, actor="centre:a", now=T0)
    assert again.verdict is Verdict.NOOP
    stored = await store.get_ticket(ticket.id)
    assert stored.state is LoopState.HANDLING
    assert [e.state for e in stored.timeline].count("handling") == 1


async def test_unknown_ticket_raises_not_found(store: TicketStore):
    with pytest.raises(TicketNotFound):
        await store.transition("0000-0000000", Step.ACKNOWLEDGE, actor="x", now=T0)


async def test_transcripts_expire_but_metadata_and_statistics_stay(
    store: TicketStore, redis_client
):
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    pii_ttl = await redis_client.ttl(store.keys.ticket_pii(ticket.id))
    meta_ttl = await redis_client.ttl(store.keys.ticket(ticket.id))
    call_ttl_days = store.retention.transcript_days
    assert 0 < pii_ttl <= call_ttl_days * 86400 < meta_ttl
    await redis_client.delete(store.keys.ticket_pii(ticket.id))  # what expiry does
    after = await store.get_ticket(ticket.id)
    assert after.transcript == "" and after.entities == () and after.category == "move_car"
    raw = await redis_client.get(store.keys.ticket(ticket.id))
    assert "车" not in raw.decode()  # no transcript in the long-lived record
    rows = await store.stats(T0.date(), T0.date())
    assert rows[0].calls == 1


async def test_repeat_caller_about_unresolved_matter_is_sent_to_110(store: TicketStore):
    first = await store.create_ticket(now=T0, **ticket_fields())
    info = await store.lookup_caller("13812345678", "move_car", T0 + timedelta(hours=5))
    assert info.repeat and info.send_to_110 and info.linked == (first.id,)
    other = await store.lookup_caller("13812345678", "noise", T0 + timedelta(hours=5))
    assert not other.repeat
    late = await store.lookup_caller("13812345678", "move_car", T0 + timedelta(hours=100))
    assert not late.repeat
    second = await store.create_ticket(
        now=T0 + timedelta(hours=5),
        repeat=info,
        **ticket_fields(route="110", route_reason="repeat-unresolved"),
    )
    assert second.linked == (first.id,) and "repeat-unresolved" in second.flags


async def test_abusive_number_is_flagged_not_blocked(store: TicketStore):
    store.loop = store.loop.model_copy(update={"abusive_numbers": ["13000000000"]})
    info = await store.lookup_caller("13000000000", "unclear", T0)
    assert info.abuse_warning and not info.send_to_110


async def test_call_timeline_is_recorded_and_published(store: TicketStore):
    call = "c1"
    await store.append_call_event(
        call, "answered", {"city": "nanchang", "caller": "13812345678"}, at=T0
    )
    await store.append_call_event(call, "partial", {"text": "我的车"}, at=T0)
    await store.append_call_event(
        call, "decision", {"route": "12345", "category": "move_car"}, at=T0
    )
    record = await store.get_call(call)
    assert [e["kind"] for e in record["events"]] == ["answered", "partial", "decision"]
    assert record["route"] == "12345" and record["transcript"] == "我的车"
    events = await store.events.recent()
    assert [e["kind"] for e in events][-3:] == ["call", "call", "call"]
    assert events[-3]["data"]["data"]["caller"] == "138****5678"
    assert await store.get_call("nope") is None
    ttl = await store.client.ttl(store.keys.call_events(call))
    assert 0 < ttl <= store.retention.transcript_days * 86400  # what was said expires


async def test_hang_up_during_ivr_becomes_a_callback_task(store: TicketStore):
    task = await store.create_callback_task(
        call_id="c2", city="jiujiang", caller="13912345678", heard="救", at=T0
    )
    assert [t["id"] for t in await store.list_callbacks()] == [task["id"]]
    assert await store.resolve_callback(task["id"], actor="calltaker:li")
    assert await store.list_callbacks() == []


async def test_fallback_to_110_moves_counters_and_withdraws_the_webhook(
    store: TicketStore, redis_client
):
    ticket = await store.create_ticket(now=T0, **ticket_fields())
    moved = await store.mark_fallback(ticket.id, "trunk-BUSY", now=T0)
    assert moved.route == "110" and moved.intended_route == "12345"
    row = (await store.stats(T0.date(), T0.date()))[0]
    assert (row.calls, row.diverted, row.fallback_110) == (1, 0, 1)
    pending = await redis_client.zrange(store.keys.outbox_due, 0, -1)
    assert pending == [f"{ticket.id}:ticket.withdrawn".encode()]
    body = json.loads(await redis_client.hget(store.keys.outbox_msg(pending[0].decode()), "body"))
    assert body["ticket"]["route"] == "110"


async def test_statistics_read_counters_for_a_date_range(store: TicketStore):
    for i in range(3):
        await store.create_ticket(now=T0 + timedelta(days=i), **ticket_fields())
    await store.create_ticket(now=T0, **ticket_fields(route="110", category="theft"))
    rows = await store.stats(date(2026, 11, 29), date(2026, 12, 1), group_by=("day",))
    assert [(r.key["day"], r.calls, r.diverted) for r in rows] == [
        ("2026-11-29", 2, 1),
        ("2026-11-30", 1, 1),
        ("2026-12-01", 1, 1),
    ]


async def test_sweep_trims_board_events_older_than_transcript_retention(
    store: TicketStore, redis_client
):
    await store.client.xadd(store.keys.events, {"kind": "call", "data": "{}"}, id="1000-0")
    await store.events.publish("call", {"x": 1})
    await store.trim_indexes(datetime.now(UTC))
    ids = [e["id"] for e in await store.events.recent()]
    assert "1000-0" not in ids and len(ids) == 1
