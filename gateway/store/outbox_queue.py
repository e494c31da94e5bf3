"""The durable webhook outbox in Redis: claim with a lease, mark delivered only after a
2xx, back off on failure, dead-letter after the last attempt.

A message being sent is "leased": its due time moves ``lease_seconds`` ahead. If the
sender dies mid-send the lease runs out and another sender (or the restarted one)
sends it again with the same idempotency key; receivers dedupe on that key.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gateway.store.connection import guarded
from gateway.store.errors import TicketNotFound
from gateway.store.events import event_fields
from gateway.store.ticket_store import OutboxMessage, TicketStore
from gateway.tickets import loop as loop_machine
from gateway.tickets.loop import Step
from gateway.tickets.model import Ticket

# Atomically take due messages and push their due time past the lease.
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return ids
"""


def _message(fields: dict[str, str]) -> OutboxMessage:
    return OutboxMessage(
        id=fields["id"],
        ticket_id=fields["ticket_id"],
        kind=fields["kind"],
        key=fields["key"],
        city=fields["city"],
        route=fields["route"],
        body=fields["body"],
        attempts=int(fields.get("attempts", 0)),
        last_error=fields.get("last_error", ""),
    )


class OutboxQueue:
    def __init__(self, store: TicketStore) -> None:
        self.store = store
        self.keys = store.keys
        self.client: Any = store.client
        self.timeout = store.timeout
        self._claim = self.client.register_script(_CLAIM)

    async def claim(self, now: datetime, limit: int, lease_seconds: float) -> list[OutboxMessage]:
        async def run() -> list[OutboxMessage]:
            ids = await self._claim(
                keys=[self.keys.outbox_due],
                args=[now.timestamp(), limit, now.timestamp() + lease_seconds],
            )
            if not ids:
                return []
            async with self.client.pipeline(transaction=False) as pipe:
                for msg_id in ids:
                    pipe.hgetall(self.keys.outbox_msg(msg_id))
                found = await pipe.execute()
            gone = [i for i, f in zip(ids, found, strict=True) if not f]
            if gone:
                await self.client.zrem(self.keys.outbox_due, *gone)
            return [_message(f) for f in found if f]

        return await guarded(run(), self.timeout * 2, "outbox claim")

    async def delivered(self, msg: OutboxMessage, now: datetime) -> None:
        """The receiver answered 2xx: forget the message; a created ticket is now 流转."""

        def drop(pipe: Any, *_: Ticket) -> None:
            pipe.zrem(self.keys.outbox_due, msg.id)
            pipe.delete(self.keys.outbox_msg(msg.id))
            pipe.hincrby(self.keys.outbox_counts, "delivered", 1)

        if msg.kind == "ticket.created":

            def transfer(ticket: Ticket) -> Ticket:
                return loop_machine.apply(
                    ticket,
                    Step.TRANSFER,
                    actor="outbox",
                    at=now,
                    detail={"receiver": f"{msg.city}/{msg.route}", "attempts": msg.attempts + 1},
                ).ticket

            try:
                await self.store._update(msg.ticket_id, transfer, drop, "outbox delivered")
                return
            except TicketNotFound:
                pass  # expired meanwhile: just drop the message

        async def run() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                drop(pipe)
                await pipe.execute()

        await guarded(run(), self.timeout, "outbox delivered")

    async def failed(
        self, msg: OutboxMessage, error: str, now: datetime, retry_at: datetime | None
    ) -> None:
        """Count the attempt; retry at ``retry_at`` or, when None, dead-letter it."""

        async def run() -> None:
            key = self.keys.outbox_msg(msg.id)
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(
                    key,
                    mapping={
                        "attempts": str(msg.attempts + 1),
                        "last_error": error[:500],
                        "last_at": now.isoformat(),
                    },
                )
                if retry_at is None:
                    pipe.zrem(self.keys.outbox_due, msg.id)
                    pipe.zadd(self.keys.outbox_dead, {msg.id: now.timestamp()})
                    pipe.persist(key)  # supervisors decide; not lost to expiry
                    pipe.hincrby(self.keys.outbox_counts, "dead", 1)
                    alert = {
                        "kind": "dead_letter",
                        "at": now.isoformat(),
                        "message": msg.id,
                        "ticket": msg.ticket_id,
                        "error": error[:200],
                    }
                    pipe.lpush(self.keys.alerts, json.dumps(alert, ensure_ascii=False))
                    pipe.xadd(
                        self.keys.events,
                        event_fields("alert", alert),
                        maxlen=20_000,
                        approximate=True,
                    )
                else:
                    pipe.zadd(self.keys.outbox_due, {msg.id: retry_at.timestamp()})
                    pipe.hincrby(self.keys.outbox_counts, "retried", 1)
                await pipe.execute()

        await guarded(run(), self.timeout, "outbox failed")

    async def dead_letters(self, limit: int = 200) -> list[dict[str, Any]]:
        async def run() -> list[dict[str, Any]]:
            ids = await self.client.zrevrange(self.keys.outbox_dead, 0, limit - 1)
            async with self.client.pipeline(transaction=False) as pipe:
                for msg_id in ids:
                    pipe.hgetall(self.keys.outbox_msg(msg_id))
                found = await pipe.execute()
            return [{k: v for k, v in f.items() if k != "body"} for f in found if f]

        return await guarded(run(), self.timeout * 2, "dead letters")

    async def requeue(self, msg_id: str, now: datetime) -> bool:
        """A supervisor sends a dead letter again (attempts start over)."""

        async def run() -> bool:
            removed = await self.client.zrem(self.keys.outbox_dead, msg_id)
            if not removed:
                return False
            key = self.keys.outbox_msg(msg_id)
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"attempts": "0"})
                pipe.expire(key, self.store._transcript_ttl)
                pipe.zadd(self.keys.outbox_due, {msg_id: now.timestamp()})
                await pipe.execute()
            return True

        return await guarded(run(), self.timeout, "requeue")

    async def counts(self) -> dict[str, int]:
        async def run() -> dict[str, int]:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self.keys.outbox_counts)
                pipe.zcard(self.keys.outbox_due)
                pipe.zcard(self.keys.outbox_dead)
                totals, pending, dead = await pipe.execute()
            return {
                **{k: int(v) for k, v in totals.items()},
                "pending": int(pending),
                "dead_now": int(dead),
            }

        return await guarded(run(), self.timeout, "outbox counts")
