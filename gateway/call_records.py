"""What a call leaves behind: its timeline, its ticket, a call-back task — never blocking it.

The session calls these around the hand-off. Every store operation here is bounded
and its failure only logged: a dead Redis must not delay or change where a caller
goes. A ticket's id is asked of the store when the call is answered (or made offline
if the store is slow); the ticket is saved after the Redirect, or spooled while Redis is
down, and the call carries its id in GW_TICKET either way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import time
from time import time as time_now
from typing import Any

from gateway.call_session import CallInfo
from gateway.logs import get_logger, mask_number
from gateway.retry import ActionTimeout, bounded
from gateway.routing import Destination, RoutingPolicy
from gateway.settings import DIVERTED_ROUTES
from gateway.store import StoreUnavailable, TicketStore
from gateway.tickets.create import new_ticket
from gateway.tickets.model import Ticket, utcnow
from gateway.tickets.repeat import RepeatInfo
from gateway.trunks import TrunkBoard

_log = get_logger("gateway.records")


TIMELINE_QUEUE = 10_000  # events waiting for Redis before new ones are dropped
STOP_DRAIN_WAIT = 2.0  # seconds to flush the timeline on a clean stop
REPEAT_LOOKUP_WAIT = 0.5  # seconds a diversion waits for the caller's history


class CallRecords:
    def __init__(
        self,
        store: TicketStore,
        policy: RoutingPolicy,
        trunks: TrunkBoard,
        local_time: Callable[[], time],
    ) -> None:
        self._store = store
        self.local_time = local_time
        self.policy = policy  # replaced on config reload
        self._trunks = trunks
        self._pending: dict[str, Ticket] = {}  # made before the Redirect, saved after it
        self._fell_back: dict[str, str] = {}  # fallbacks seen before their ticket was saved
        self._ids: dict[str, asyncio.Task[str]] = {}  # call id → ticket id being allocated
        self._handed_off: dict[str, str] = {}  # channel → call id, until the channel hangs up
        self._timeline: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue(
            maxsize=TIMELINE_QUEUE
        )
        self._writer: asyncio.Task[None] | None = None

    # -- the call timeline: written in order by one task, off the call's path ------------

    def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_timeline(), name="call-timeline")

    async def stop(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(TimeoutError):  # write what is queued, briefly
                async with asyncio.timeout(STOP_DRAIN_WAIT):
                    await self.drain()
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    def record(self, call_id: str, kind: str, data: dict[str, Any]) -> None:
        """Queue one timeline event; never waits (a full queue drops it, logged)."""
        try:
            self._timeline.put_nowait((call_id, kind, data))
        except asyncio.QueueFull:
            _log.warning("call event dropped: timeline queue full", call_id=call_id, kind=kind)

    async def _write_timeline(self) -> None:
        while True:
            call_id, kind, data = await self._timeline.get()
            try:
                await self._store.append_call_event(call_id, kind, data)
            except Exception as exc:  # this task must outlive any one failed write
                _log.warning("call event not stored", call_id=call_id, kind=kind, error=str(exc))
            finally:
                self._timeline.task_done()

    async def drain(self) -> None:
        """Wait until every queued timeline event was written or given up (tests, stop)."""
        await self._timeline.join()

    # -- tickets ---------------------------------------------------------------------------

    def call_started(self, info: CallInfo) -> None:
        """Ask the store for the call's ticket number now, so it is ready at the hand-off."""
        self._ids[info.call_id] = asyncio.create_task(self._store.allocate_ticket_id())

    def _ticket_id(self, info: CallInfo) -> str | None:
        """The allocated id if it arrived in time; None → an offline id (never waits)."""
        task = self._ids.pop(info.call_id, None)
        if task is None or not task.done():
            if task is not None:
                task.cancel()
            return None
        if task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    def call_ended(self, info: CallInfo) -> None:
        task = self._ids.pop(info.call_id, None)
        if task is None:
            return
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a failed allocation is not worth a warning
        task.cancel()

    async def _repeat_info(self, info: CallInfo, route: str, category: str) -> RepeatInfo:
        """Only a diversion depends on the caller's history; an emergency never waits for it."""
        if route not in DIVERTED_ROUTES:
            return RepeatInfo()
        try:
            return await bounded(
                self._store.lookup_caller(info.caller, category),
                REPEAT_LOOKUP_WAIT,
                "repeat-caller lookup",
            )
        except (StoreUnavailable, ActionTimeout) as exc:
            _log.warning("repeat-caller check skipped", call_id=info.call_id, error=str(exc))
            return RepeatInfo()

    async def prepare_hand_off(
        self,
        *,
        info: CallInfo,
        route: str,
        category: str,
        confidence: float,
        reason: str,
        transcript: str,
        triage: Any,
        wanted_route: str = "",
    ) -> tuple[Destination, str]:
        """Decide the destination (policy + repeat history) and make the ticket in memory.

        No write happens here: the ticket is saved after the Redirect (``handed_off``),
        so a slow Redis never holds a caller in the IVR.
        """
        repeat = await self._repeat_info(info, route, category)
        destination = self.policy.decide(
            city_code=info.city,
            route=route,
            category=category,
            at=self.local_time(),
            trunks=self._trunks.snapshot(),
            unresolved_repeat=repeat.send_to_110,
        )
        ticket = new_ticket(
            call_id=info.call_id,
            city=info.city or "",
            caller=info.caller,
            route=destination.route,
            category=category,
            confidence=confidence,
            now=utcnow(),
            transcript=transcript,
            entities=getattr(triage, "entities", ()),
            evidence=getattr(triage, "evidence", ()),
            rule=getattr(triage, "rule", ""),
            route_reason=f"{reason}; {destination.reason}",
            intended_route=destination.wanted_route or wanted_route,
            route_ms=int((time_now() - info.answered_at) * 1000),
            repeat=repeat,
            ticket_id=self._ticket_id(info),
        )
        self._pending[ticket.id] = ticket
        self.record(
            info.call_id,
            "decision",
            {
                "route": destination.route,
                "category": category,
                "ticket": ticket.id,
                "reason": reason,
                "policy": destination.reason,
                "confidence": round(confidence, 3),
                "flags": list(repeat.flags),
                "evidence": getattr(triage, "explain", lambda: "")(),
            },
        )
        return destination, ticket.id

    async def handed_off(
        self,
        info: CallInfo,
        ticket_id: str | None,
        destination: Destination,
        latency: float,
        decided_after: float,
    ) -> None:
        await self._save(ticket_id)
        self._handed_off[info.channel] = info.call_id
        self.record(
            info.call_id,
            "redirect",
            {
                "context": destination.context,
                "trunk": destination.trunk or "",
                "ticket": ticket_id or "",
                "redirect_ms": round(latency * 1000, 2),
                "decided_after_s": round(decided_after, 3),
            },
        )

    async def _save(self, ticket_id: str | None) -> None:
        ticket = self._pending.get(ticket_id or "")
        if ticket is None:
            return
        try:
            if not await self._store.save_or_spool(ticket):
                _log.warning("ticket spooled until Redis is back", ticket=ticket.id)
        except Exception as exc:
            _log.error("ticket NOT saved", ticket=ticket.id, error=str(exc))
        # pending until the save is over: a fall-back reported meanwhile (a refusing trunk
        # answers in milliseconds) is held in _fell_back, not lost on a missing ticket
        del self._pending[ticket.id]
        reason = self._fell_back.pop(ticket.id, None)
        if reason is not None:
            await self._fallback(ticket.id, reason)

    async def hand_off_failed(self, info: CallInfo, ticket_id: str | None, error: str) -> None:
        self.record(info.call_id, "redirect_failed", {"error": error, "ticket": ticket_id})
        await self._save(ticket_id)
        if ticket_id:
            await self._fallback(ticket_id, "redirect-failed; dialplan fail-safe to 110")

    def dial_ended(self, channel: str, status: str, destination: str) -> None:
        """After the hand-off the call's timeline goes on: each Dial's result."""
        call_id = self._handed_off.get(channel)
        if call_id is not None:
            self.record(call_id, "dial_result", {"status": status, "dialled": destination})

    def keep_only(self, live_channels: set[str]) -> None:
        """Forget handed-off channels whose Hangup was missed during an AMI outage."""
        for channel in set(self._handed_off) - live_channels:
            del self._handed_off[channel]

    def channel_gone(self, channel: str, cause: str) -> None:
        call_id = self._handed_off.pop(channel, None)
        if call_id is not None:
            self.record(call_id, "hangup", {"cause": cause})

    async def came_back_to_110(self, ticket_id: str, reason: str) -> None:
        """The dialplan took a handed-off call to route-110 (trunk busy, down, no answer:
        UserEvent GatewayRoute Route: 110). The ticket follows the caller."""
        if ticket_id in self._pending:  # the Redirect was quicker than our save
            self._fell_back[ticket_id] = reason
            return
        await self._fallback(ticket_id, reason)

    async def _fallback(self, ticket_id: str, reason: str) -> None:
        try:
            await self._store.mark_fallback(ticket_id, f"{reason}; back to 110")
        except Exception as exc:  # the ticket may be spooled or Redis down
            _log.warning("fallback not recorded", ticket=ticket_id, error=str(exc))

    async def callback(self, info: CallInfo, transcript: str, reason: str) -> None:
        _log.warning(
            "caller hung up during the IVR: call-back task for 110",
            call_id=info.call_id,
            caller=mask_number(info.caller),
        )
        try:
            await self._store.create_callback_task(
                call_id=info.call_id,
                city=info.city or "",
                caller=info.caller,
                heard=transcript,
                reason=reason,
            )
        except Exception as exc:
            _log.error("call-back task NOT stored", call_id=info.call_id, error=str(exc))
