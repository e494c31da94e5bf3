"""The Redis edge for tickets, the loop indexes, the caller index, statistics counters,
callback tasks, call records and the webhook outbox's enqueue side.

Decisions are made by :mod:`gateway.tickets` (pure); this module reads, calls them and
writes the outcome atomically (WATCH/MULTI), so two gateway instances sharing one
Redis never lose a step. Every method raises :class:`StoreUnavailable` within
``redis.op_timeout`` when Redis is gone.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from gateway.logs import get_logger
from gateway.settings import (
    DIVERTED_ROUTES,
    LoopSettings,
    RedisSettings,
    RetentionSettings,
    Settings,
    WebhookSettings,
)
from gateway.store.connection import guarded, make_client
from gateway.store.errors import StoreUnavailable, TicketNotFound
from gateway.store.events import EventBus, event_fields
from gateway.store.keys import Keys
from gateway.store.spool_file import SpoolFile
from gateway.tickets import loop as loop_machine
from gateway.tickets import sla
from gateway.tickets import stats as stats_rules
from gateway.tickets.create import new_ticket
from gateway.tickets.loop import Step, Transition, Verdict
from gateway.tickets.model import (
    LoopState,
    Ticket,
    new_ticket_id,
    sequenced_ticket_id,
    service_day,
    utcnow,
)
from gateway.tickets.repeat import PriorCall, RepeatInfo, decide_repeat
from gateway.tickets.schema import from_record, to_json, to_record

# redis-py types pipeline arguments narrowly; our values are str (decode_responses)
Pipeline = Any
DAY = 86400
SPOOL_MAX = 10_000
log = get_logger("gateway.store")
RECENT_CALLS = 500
ALERTS_MAX = 5000


def _ts(at: datetime) -> float:
    return at.timestamp()


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    ticket_id: str
    kind: str  # ticket.created | ticket.withdrawn | ticket.escalated
    key: str  # idempotency key: receivers dedupe on it
    city: str
    route: str
    body: str  # the JSON sent, frozen at enqueue time
    attempts: int = 0
    last_error: str = ""


class TicketStore:
    """Construct with :meth:`from_settings` (or pass a client for tests)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        redis: RedisSettings,
        retention: RetentionSettings,
        loop: LoopSettings,
        webhooks: WebhookSettings,
    ) -> None:
        # Any: redis-py types every reply as bytes|str|... whatever decode_responses says
        self.client: Any = client
        self.keys = Keys(redis.key_prefix)
        self.redis_settings = redis
        self.retention = retention
        self.loop = loop
        self.webhooks = webhooks
        self.timeout = redis.op_timeout
        self.events = EventBus(client, self.keys.events, redis.op_timeout)
        # tickets made while Redis was unreachable, saved by flush_spool() later
        self.spool: deque[Ticket] = deque(maxlen=SPOOL_MAX)
        self.callback_spool: deque[dict[str, Any]] = deque(maxlen=SPOOL_MAX)
        self.spool_file = SpoolFile(redis.spool_file) if redis.spool_file else None
        self._load_spool()

    @classmethod
    def from_settings(cls, settings: Settings) -> TicketStore:
        return cls(
            make_client(settings.redis),
            redis=settings.redis,
            retention=settings.retention,
            loop=settings.loop,
            webhooks=settings.webhooks,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await guarded(self.client.ping(), self.timeout, "ping"))
        except StoreUnavailable:
            return False

    # ------------------------------------------------------------------ tickets

    @property
    def _transcript_ttl(self) -> int:
        return max(1, int(self.retention.transcript_days * DAY))

    @property
    def _ticket_ttl(self) -> int:
        return max(1, int(self.retention.ticket_days * DAY))

    async def create_ticket(self, *, now: datetime | None = None, **fields: Any) -> Ticket:
        """Build (gateway.tickets.create.new_ticket keywords) and save a new ticket."""
        ticket = new_ticket(now=now or utcnow(), **fields)
        return await self.save_new_ticket(ticket)

    async def allocate_ticket_id(self, now: datetime | None = None) -> str:
        """A unique, short ticket id from the daily counter (StoreUnavailable if Redis is
        down: the caller then uses an offline id, gateway.tickets.model.new_ticket_id)."""
        at = now or utcnow()
        key = self.keys.ticket_sequence(service_day(at))

        async def run() -> int:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, 2 * DAY)
                number, _ = await pipe.execute()
                return int(number)

        return sequenced_ticket_id(at, await guarded(run(), self.timeout, "ticket id"))

    async def save_new_ticket(self, ticket: Ticket) -> Ticket:
        """Persist a ticket built with new_ticket(); returns it (with a fresh id if its id
        was taken). Indexes, counters, loop deadlines, the webhook and the board event are
        written in the same transaction."""
        return await guarded(self._save_new(ticket), self.timeout * 3, "save ticket")

    def _load_spool(self) -> None:
        if self.spool_file is None:
            return
        try:
            tickets, callbacks = self.spool_file.load()
        except ValueError as exc:
            log.error("spool_unreadable", error=str(exc))
            return
        self.spool.extend(from_record(t["record"], t.get("transcript", "")) for t in tickets)
        self.callback_spool.extend(callbacks)
        if tickets or callbacks:
            log.warning("spool_loaded", tickets=len(tickets), callbacks=len(callbacks))

    def _persist_spool(self) -> None:
        """Mirror the in-memory spool to disk (a restart during an outage loses nothing)."""
        if self.spool_file is None:
            return
        try:
            self.spool_file.save(
                [{"record": to_record(t), "transcript": t.transcript} for t in self.spool],
                list(self.callback_spool),
            )
        except OSError as exc:
            log.error("spool_not_persisted", error=str(exc))

    async def save_or_spool(self, ticket: Ticket) -> bool:
        """Save now, or keep the ticket (memory and spool file) when Redis is unavailable
        (the call goes on with the id it already carries). True when saved now."""
        try:
            await self.save_new_ticket(ticket)
        except StoreUnavailable:
            self.spool.append(ticket)
            self._persist_spool()
            return False
        return True

    async def flush_spool(self) -> int:
        """Save spooled call-back tasks and tickets (oldest first); stops at the first
        failure (StoreUnavailable). Returns how many were saved. The outbox worker calls it
        on every pass."""
        saved = 0
        try:
            while self.callback_spool:
                await self._save_callback(self.callback_spool[0])
                self.callback_spool.popleft()
                saved += 1
            while self.spool:
                # a clash with an id taken meanwhile gets a fresh id (1 in 10^7 per day)
                await self.save_new_ticket(self.spool[0])
                self.spool.popleft()
                saved += 1
        finally:
            if saved:
                self._persist_spool()
        return saved

    async def _save_new(self, ticket: Ticket) -> Ticket:
        for _ in range(20):
            key = self.keys.ticket(ticket.id)
            async with self.client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    if await pipe.exists(key):
                        await pipe.unwatch()
                        # only two offline ids can clash; the call already carries the old
                        # id, so say so loudly
                        fresh = new_ticket_id(ticket.created_at)
                        log.error("ticket_id_clash", published=ticket.id, saved_as=fresh)
                        ticket = replace(ticket, id=fresh)
                        continue
                    pipe.multi()
                    self._write_new(pipe, ticket)
                    await pipe.execute()
                    return ticket
                except WatchError:
                    ticket = replace(ticket, id=new_ticket_id(ticket.created_at))
        raise RuntimeError("could not find a free ticket id")

    def _write_new(self, pipe: Pipeline, ticket: Ticket) -> None:
        k = self.keys
        pipe.set(k.ticket(ticket.id), _dump(to_record(ticket)), ex=self._ticket_ttl)
        pipe.set(
            k.ticket_pii(ticket.id),
            _dump(
                {
                    "transcript": ticket.transcript,
                    "entities": [{"kind": e.kind, "value": e.value} for e in ticket.entities],
                }
            ),
            ex=self._transcript_ttl,
        )
        pipe.zadd(k.tickets_by_time, {ticket.id: _ts(ticket.created_at)})
        if ticket.caller:
            ckey = k.caller(ticket.caller)
            pipe.zadd(ckey, {ticket.id: _ts(ticket.created_at)})
            horizon = max(self.loop.repeat_window_hours, self.loop.abuse_window_hours) * 3600
            pipe.expire(ckey, int(horizon) + DAY)
        self._count(pipe, ticket, stats_rules.on_created(ticket))
        self._index_loop(pipe, ticket)
        if ticket.loop_required or self._target_name(ticket.city, ticket.route):
            self._enqueue(pipe, ticket, "ticket.created")
        pipe.xadd(
            k.events,
            event_fields("ticket", self._board_view(ticket)),
            maxlen=20_000,
            approximate=True,
        )

    def _count(self, pipe: Pipeline, ticket: Ticket, increments: dict[str, int]) -> None:
        key = self.keys.stats(stats_rules.stats_day(ticket.created_at))
        for name, amount in increments.items():
            pipe.hincrby(key, name, amount)

    def _index_loop(self, pipe: Pipeline, ticket: Ticket) -> None:
        """Keep the due-time indexes the sweep reads in step with the ticket's state."""
        k = self.keys
        state = ticket.state
        done = state in (LoopState.CLOSED, LoopState.ESCALATED) or not ticket.loop_required
        acked = ticket.reached(LoopState.HANDLING) or ticket.reached(LoopState.FEEDBACK)
        if done or acked:
            pipe.zrem(k.loop_due("ack"), ticket.id)
        else:
            pipe.zadd(k.loop_due("ack"), {ticket.id: _ts(sla.ack_due(ticket, self.loop))})
        if done or ticket.reached(LoopState.FEEDBACK):
            pipe.zrem(k.loop_due("feedback"), ticket.id)
        else:
            due = sla.feedback_due(ticket, self.loop)
            pipe.zadd(k.loop_due("feedback"), {ticket.id: _ts(due)})
        follow = sla.followup_due(ticket, self.loop)
        if state is LoopState.FEEDBACK and follow is not None:
            pipe.zadd(k.loop_due("followup"), {ticket.id: _ts(follow)}, nx=True)
        else:
            pipe.zrem(k.loop_due("followup"), ticket.id)
            pipe.zrem(k.manual_followups, ticket.id)
            pipe.hdel(k.survey_attempts, ticket.id)

    def _board_view(self, ticket: Ticket) -> dict[str, Any]:
        view = to_json(ticket)
        view.pop("timeline")
        return view

    async def get_ticket(self, ticket_id: str) -> Ticket | None:
        async def read() -> Ticket | None:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(self.keys.ticket(ticket_id))
                pipe.get(self.keys.ticket_pii(ticket_id))
                record, pii = await pipe.execute()
            return self._decode(record, pii)

        return await guarded(read(), self.timeout, "get ticket")

    @staticmethod
    def _decode(record: str | None, pii: str | None) -> Ticket | None:
        if record is None:
            return None
        private = json.loads(pii) if pii else {}
        return from_record(
            json.loads(record), private.get("transcript", ""), private.get("entities")
        )

    async def get_tickets(self, ticket_ids: Iterable[str]) -> list[Ticket]:
        ids = list(ticket_ids)
        if not ids:
            return []

        async def read() -> list[Ticket]:
            async with self.client.pipeline(transaction=False) as pipe:
                for tid in ids:
                    pipe.get(self.keys.ticket(tid))
                    pipe.get(self.keys.ticket_pii(tid))
                raw = await pipe.execute()
            found = (self._decode(raw[i], raw[i + 1]) for i in range(0, len(raw), 2))
            return [t for t in found if t is not None]

        return await guarded(read(), self.timeout * 2, "get tickets")

    async def list_tickets(
        self, *, limit: int = 100, state: str | None = None, city: str | None = None
    ) -> list[Ticket]:
        ids = await guarded(
            self.client.zrevrange(self.keys.tickets_by_time, 0, max(limit * 5, 500) - 1),
            self.timeout,
            "list tickets",
        )
        tickets = await self.get_tickets(ids)
        chosen = [
            t
            for t in tickets
            if (state is None or t.state.value == state) and (city is None or t.city == city)
        ]
        return chosen[:limit]

    # ------------------------------------------------------------ loop steps

    async def transition(
        self,
        ticket_id: str,
        step: Step,
        *,
        actor: str,
        detail: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Transition:
        """Apply one loop step (validated by gateway.tickets.loop). Raises TicketNotFound."""
        at = now or utcnow()
        outcome: list[Transition] = []

        def change(ticket: Ticket) -> Ticket:
            result = loop_machine.apply(ticket, step, actor=actor, at=at, detail=detail)
            outcome.append(result)
            return result.ticket

        def extra(pipe: Pipeline, before: Ticket, after: Ticket) -> None:
            if after is before:
                return
            if step is Step.ESCALATE:
                self._count(pipe, after, stats_rules.on_metric(after, "escalated"))
                if before.reached(LoopState.TRANSFERRED):
                    self._enqueue(pipe, after, "ticket.escalated")
                else:  # never handed over: do not hand it over now
                    self._withdraw_pending(pipe, before.id)
            if step is Step.CLOSE and after.reached(LoopState.FEEDBACK):
                self._count(pipe, after, stats_rules.on_metric(after, "loop_closed"))

        await self._update(ticket_id, change, extra, "loop step")
        return outcome[-1]

    async def _update(
        self,
        ticket_id: str,
        change: Callable[[Ticket], Ticket],
        extra: Callable[[Pipeline, Ticket, Ticket], None] | None,
        what: str,
    ) -> tuple[Ticket, Ticket]:
        return await guarded(
            self._update_unguarded(ticket_id, change, extra), self.timeout * 3, what
        )

    async def _update_unguarded(
        self,
        ticket_id: str,
        change: Callable[[Ticket], Ticket],
        extra: Callable[[Pipeline, Ticket, Ticket], None] | None,
    ) -> tuple[Ticket, Ticket]:
        key = self.keys.ticket(ticket_id)
        while True:
            async with self.client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    record = await pipe.get(key)
                    pii = await pipe.get(self.keys.ticket_pii(ticket_id))
                    before = self._decode(record, pii)
                    if before is None:
                        raise TicketNotFound(ticket_id)
                    after = change(before)
                    pipe.multi()
                    if after is not before:
                        pipe.set(key, _dump(to_record(after)), keepttl=True)
                        self._index_loop(pipe, after)
                        pipe.xadd(
                            self.keys.events,
                            event_fields("ticket", self._board_view(after)),
                            maxlen=20_000,
                            approximate=True,
                        )
                    if extra:
                        extra(pipe, before, after)
                    await pipe.execute()
                    return before, after
                except WatchError:
                    continue

    async def add_note(
        self, ticket_id: str, *, actor: str, detail: dict[str, Any], now: datetime | None = None
    ) -> Ticket:
        at = now or utcnow()
        _, after = await self._update(
            ticket_id,
            lambda t: loop_machine.note(t, actor=actor, at=at, detail=detail),
            None,
            "note",
        )
        return after

    async def mark_fallback(
        self, ticket_id: str, reason: str, *, now: datetime | None = None
    ) -> Ticket:
        """The diverted call came back to 110 (trunk busy/down/no answer): the ticket's
        route becomes 110, counters move, a pending webhook is withdrawn."""
        at = now or utcnow()
        for index, spooled in enumerate(self.spool):
            if spooled.id == ticket_id:  # not saved yet: correct it before it is
                self.spool[index] = _fallen_back(spooled, reason, at)
                self._persist_spool()
                return self.spool[index]

        def change(ticket: Ticket) -> Ticket:
            if ticket.route == "110":
                return ticket
            return _fallen_back(ticket, reason, at)

        def extra(pipe: Pipeline, before: Ticket, after: Ticket) -> None:
            if after is before:
                return
            old = stats_rules.on_created(before)
            new = stats_rules.on_created(after)
            self._count(pipe, before, {name: -n for name, n in old.items()})
            self._count(pipe, after, new)
            if before.route in DIVERTED_ROUTES:
                # not sent yet: never send it; sent already: tell the receiver it is off
                self._withdraw_pending(pipe, before.id)
                self._enqueue(pipe, after, "ticket.withdrawn", route=before.route)

        _, after = await self._update(ticket_id, change, extra, "fallback")
        return after

    # ------------------------------------------------------------ repeat callers

    async def lookup_caller(
        self, number: str, category: str | None, now: datetime | None = None
    ) -> RepeatInfo:
        """Repeat-caller and abuse decision for a new call (call before routing)."""
        at = now or utcnow()
        if not number:
            return RepeatInfo()
        horizon = max(self.loop.repeat_window_hours, self.loop.abuse_window_hours)
        since = at - timedelta(hours=horizon)
        ids = await guarded(
            self.client.zrangebyscore(self.keys.caller(number), _ts(since), _ts(at)),
            self.timeout,
            "caller lookup",
        )
        prior = [
            PriorCall(
                t.id,
                t.category,
                t.intended_route or t.route,
                t.state.value,
                t.outcome,
                t.satisfaction,
                t.created_at,
            )
            for t in await self.get_tickets(ids)
        ]
        return decide_repeat(number, category, at, prior, self.loop)

    # ------------------------------------------------------------ callbacks

    async def create_callback_task(
        self,
        *,
        call_id: str,
        city: str,
        caller: str,
        heard: str = "",
        reason: str = "hangup-during-ivr",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """A caller hung up during the IVR: a task for 110 to call them back. Never lost:
        while Redis is unavailable the task waits in memory (status "spooled") and is
        saved by flush_spool()."""
        at = at or utcnow()
        task = {
            "id": uuid.uuid4().hex[:12],
            "call_id": call_id,
            "city": city,
            "caller": caller,
            "heard": heard,
            "reason": reason,
            "at": at.isoformat(),
            "status": "open",
        }

        try:
            await self._save_callback(task)
        except StoreUnavailable:
            # a missed call must be called back: keep it until Redis answers again
            task["status"] = "spooled"
            self.callback_spool.append(task)
            self._persist_spool()
        return task

    async def _save_callback(self, task: dict[str, Any]) -> None:
        stored = {**task, "status": "open"}

        async def write() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(self.keys.callback(task["id"]), _dump(stored), ex=self._transcript_ttl)
                pipe.zadd(
                    self.keys.callbacks, {task["id"]: _ts(datetime.fromisoformat(task["at"]))}
                )
                pipe.xadd(
                    self.keys.events,
                    event_fields("callback", _masked_task(stored)),
                    maxlen=20_000,
                    approximate=True,
                )
                await pipe.execute()

        await guarded(write(), self.timeout, "create callback task")

    async def list_callbacks(self, *, status: str | None = "open") -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            ids = await self.client.zrange(self.keys.callbacks, 0, -1)
            if not ids:
                return []
            raw = await self.client.mget([self.keys.callback(i) for i in ids])
            stale = [i for i, r in zip(ids, raw, strict=True) if r is None]
            if stale:
                await self.client.zrem(self.keys.callbacks, *stale)
            tasks = [json.loads(r) for r in raw if r is not None]
            return [t for t in tasks if status is None or t["status"] == status]

        return await guarded(read(), self.timeout * 2, "list callbacks")

    async def resolve_callback(self, task_id: str, *, actor: str, note: str = "") -> bool:
        async def write() -> bool:
            key = self.keys.callback(task_id)
            raw = await self.client.get(key)
            if raw is None:
                return False
            task = json.loads(raw)
            task.update(status="done", done_by=actor, note=note, done_at=utcnow().isoformat())
            await self.client.set(key, _dump(task), keepttl=True)
            return True

        return await guarded(write(), self.timeout, "resolve callback")

    # ------------------------------------------------------------ call records

    async def append_call_event(
        self, call_id: str, kind: str, data: dict[str, Any], *, at: datetime | None = None
    ) -> None:
        """One event of a call's timeline (answered, prompt, dtmf, partial, final, decision,
        redirect, dial_result, hangup …); also published to the board. The record expires
        after retention.transcript_days (it holds what the caller said)."""
        at = at or utcnow()
        entry = {"kind": kind, "at": at.isoformat(), "data": data}
        k = self.keys

        async def write() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.rpush(k.call_events(call_id), _dump(entry))
                pipe.expire(k.call_events(call_id), self._transcript_ttl)
                meta: dict[str, str] = {"last_at": at.isoformat(), "last_kind": kind}
                if kind == "answered":
                    meta["started_at"] = at.isoformat()
                for name in ("city", "route", "category", "ticket"):
                    if name in data and isinstance(data[name], str):
                        meta[name] = data[name]
                if "caller" in data:
                    meta["caller"] = str(data["caller"])
                if kind in ("final", "partial") and "text" in data:
                    meta["transcript"] = str(data["text"])
                pipe.hset(k.call(call_id), mapping=meta)
                pipe.expire(k.call(call_id), self._transcript_ttl)
                pipe.zadd(k.calls_recent, {call_id: _ts(at)})
                pipe.zremrangebyrank(k.calls_recent, 0, -RECENT_CALLS - 1)
                pipe.xadd(
                    k.events,
                    event_fields("call", {"call_id": call_id, **_masked(entry)}),
                    maxlen=20_000,
                    approximate=True,
                )
                await pipe.execute()

        await guarded(write(), self.timeout, "append call event")

    async def get_call(self, call_id: str) -> dict[str, Any] | None:
        async def read() -> dict[str, Any] | None:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self.keys.call(call_id))
                pipe.lrange(self.keys.call_events(call_id), 0, -1)
                meta, events = await pipe.execute()
            if not meta and not events:
                return None
            return {"call_id": call_id, **meta, "events": [json.loads(e) for e in events]}

        return await guarded(read(), self.timeout, "get call")

    async def recent_calls(self, limit: int = 50) -> list[dict[str, Any]]:
        ids = await guarded(
            self.client.zrevrange(self.keys.calls_recent, 0, limit - 1),
            self.timeout,
            "recent calls",
        )

        async def read() -> list[dict[str, Any]]:
            async with self.client.pipeline(transaction=False) as pipe:
                for cid in ids:
                    pipe.hgetall(self.keys.call(cid))
                metas = await pipe.execute()
            return [{"call_id": cid, **m} for cid, m in zip(ids, metas, strict=True) if m]

        return await guarded(read(), self.timeout, "recent calls")

    # ------------------------------------------------------------ statistics

    async def stats_days(self, first: date, last: date) -> list[tuple[date, dict[str, int]]]:
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]

        async def read() -> list[tuple[date, dict[str, int]]]:
            async with self.client.pipeline(transaction=False) as pipe:
                for day in days:
                    pipe.hgetall(self.keys.stats(day))
                hashes = await pipe.execute()
            return [
                (d, {k: int(v) for k, v in h.items()}) for d, h in zip(days, hashes, strict=True)
            ]

        return await guarded(read(), max(self.timeout, 0.05 * len(days)), "read statistics")

    async def stats(
        self,
        first: date,
        last: date,
        *,
        group_by: tuple[str, ...] = ("city",),
        city: str | None = None,
    ) -> list[stats_rules.StatsRow]:
        return stats_rules.aggregate(await self.stats_days(first, last), group_by, city)

    async def count_metric(self, ticket: Ticket, metric: str) -> None:
        async def write() -> None:
            async with self.client.pipeline(transaction=False) as pipe:
                self._count(pipe, ticket, stats_rules.on_metric(ticket, metric))
                await pipe.execute()

        await guarded(write(), self.timeout, "count")

    # ------------------------------------------------------------ alerts

    async def raise_alert(self, kind: str, data: dict[str, Any], at: datetime) -> None:
        entry = {"kind": kind, "at": at.isoformat(), **data}

        async def write() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.lpush(self.keys.alerts, _dump(entry))
                pipe.ltrim(self.keys.alerts, 0, ALERTS_MAX - 1)
                pipe.xadd(
                    self.keys.events, event_fields("alert", entry), maxlen=20_000, approximate=True
                )
                await pipe.execute()

        await guarded(write(), self.timeout, "alert")

    async def alerts(self, limit: int = 100) -> list[dict[str, Any]]:
        raw = await guarded(
            self.client.lrange(self.keys.alerts, 0, limit - 1), self.timeout, "alerts"
        )
        return [json.loads(r) for r in raw]

    # ------------------------------------------------------------ loop indexes

    async def due(self, kind: str, now: datetime, limit: int = 500) -> list[str]:
        """Ticket ids whose ``kind`` (ack | feedback | followup) deadline has passed."""
        return list(
            await guarded(
                self.client.zrangebyscore(self.keys.loop_due(kind), "-inf", _ts(now), 0, limit),
                self.timeout,
                f"due {kind}",
            )
        )

    async def clear_due(self, kind: str, ticket_id: str) -> None:
        await guarded(
            self.client.zrem(self.keys.loop_due(kind), ticket_id), self.timeout, "clear due"
        )

    async def reschedule_followup(self, ticket_id: str, at: datetime) -> int:
        """Next survey try; returns the number of tries so far."""

        async def write() -> int:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hincrby(self.keys.survey_attempts, ticket_id, 1)
                pipe.zadd(self.keys.loop_due("followup"), {ticket_id: _ts(at)})
                tries, _ = await pipe.execute()
            return int(tries)

        return await guarded(write(), self.timeout, "reschedule follow-up")

    async def to_manual_followup(self, ticket_id: str, at: datetime) -> None:
        async def write() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.zrem(self.keys.loop_due("followup"), ticket_id)
                pipe.zadd(self.keys.manual_followups, {ticket_id: _ts(at)})
                await pipe.execute()

        await guarded(write(), self.timeout, "manual follow-up")

    async def manual_followups(self) -> list[Ticket]:
        ids = await guarded(
            self.client.zrange(self.keys.manual_followups, 0, -1), self.timeout, "manual follow-ups"
        )
        return await self.get_tickets(ids)

    async def trim_indexes(self, now: datetime) -> int:
        """Drop index entries of tickets past retention (their keys expired by TTL) and
        board events older than the transcript retention (they quote callers)."""
        horizon = now - timedelta(days=self.retention.ticket_days)
        events_horizon = now - timedelta(days=self.retention.transcript_days)

        async def run() -> int:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(self.keys.tickets_by_time, "-inf", _ts(horizon))
                pipe.xtrim(
                    self.keys.events,
                    minid=f"{int(_ts(events_horizon) * 1000)}-0",
                    approximate=False,
                )
                dropped, _ = await pipe.execute()
            return int(dropped)

        return await guarded(run(), self.timeout, "trim indexes")

    # ------------------------------------------------------------ outbox (enqueue side)

    def _target_name(self, city: str, route: str) -> str | None:
        for name in (f"{city}/{route}", f"*/{route}"):
            if name in self.webhooks.targets:
                return name
        return None

    def _withdraw_pending(self, pipe: Pipeline, ticket_id: str) -> None:
        created = f"{ticket_id}:ticket.created"
        pipe.zrem(self.keys.outbox_due, created)
        pipe.delete(self.keys.outbox_msg(created))

    def _enqueue(self, pipe: Pipeline, ticket: Ticket, kind: str, route: str | None = None) -> None:
        route = route or ticket.route
        msg_id = f"{ticket.id}:{kind}"
        body = {"event": kind, "idempotency_key": msg_id, "ticket": to_json(ticket)}
        fields = {
            "id": msg_id,
            "ticket_id": ticket.id,
            "kind": kind,
            "key": msg_id,
            "city": ticket.city,
            "route": route,
            "body": _dump(body),
            "attempts": "0",
            "last_error": "",
        }
        pipe.hset(self.keys.outbox_msg(msg_id), mapping=fields)
        pipe.expire(self.keys.outbox_msg(msg_id), self._transcript_ttl)
        pipe.zadd(self.keys.outbox_due, {msg_id: _ts(ticket.timeline[-1].at)}, nx=True)
        pipe.hincrby(self.keys.outbox_counts, "enqueued", 1)


def _fallen_back(ticket: Ticket, reason: str, at: datetime) -> Ticket:
    if ticket.route == "110":
        return ticket
    moved = replace(ticket, route="110", intended_route=ticket.route, route_reason=reason)
    return loop_machine.note(
        moved, actor="gateway", at=at, detail={"fallback": reason, "from": ticket.route}
    )


def _masked(entry: dict[str, Any]) -> dict[str, Any]:
    from gateway.logs import mask_number

    data = dict(entry.get("data", {}))
    if "caller" in data:
        data["caller"] = mask_number(str(data["caller"]))
    return {**entry, "data": data}


def _masked_task(task: dict[str, Any]) -> dict[str, Any]:
    from gateway.logs import mask_number

    return {**task, "caller": mask_number(task["caller"])}


__all__ = ["OutboxMessage", "StoreUnavailable", "TicketNotFound", "TicketStore", "Verdict"]
