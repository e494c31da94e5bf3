"""Keeps the loop moving: overdue alerts and escalation back to 110, follow-up surveys,
the manual follow-up list, and survey results closing the loop.

``sweep(now)`` is one pass with an explicit time (the lead runs it periodically with
``start()``; tests call it directly). Decisions come from gateway.tickets (pure).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from gateway.logs import get_logger
from gateway.settings import LoopSettings
from gateway.store.errors import StoreUnavailable, TicketNotFound
from gateway.store.ticket_store import TicketStore
from gateway.tickets import sla
from gateway.tickets.loop import Step, Transition, Verdict, survey_satisfaction
from gateway.tickets.model import LoopState, Ticket

log = get_logger("gateway.loop")


class Originator(Protocol):
    """Places the automated satisfaction call (the AMI client satisfies this): Originate
    Local/<number>@... into ``context`` with ``variables`` set (GW_TICKET). Returns
    False when the call could not be placed or was not answered."""

    async def originate(
        self, number: str, context: str = "survey", variables: Mapping[str, str] | None = None
    ) -> bool: ...


@dataclass
class SweepReport:
    alerts: list[str] = field(default_factory=list)  # "ack:<id>", "feedback:<id>"
    escalated: list[str] = field(default_factory=list)
    surveys_placed: list[str] = field(default_factory=list)
    surveys_failed: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)


class LoopKeeper:
    def __init__(
        self, store: TicketStore, loop: LoopSettings, originator: Originator | None = None
    ) -> None:
        self.store = store
        self.loop = loop
        self.originator = originator
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # ----------------------------------------------------------- periodic sweep

    async def start(self, interval: float = 30.0) -> None:
        async def run() -> None:
            while not self._stopping.is_set():
                try:
                    await self.sweep(datetime.now(UTC))
                except StoreUnavailable as exc:
                    log.warning("sweep_store_unavailable", error=str(exc))
                # An event, not a sleep: a cancellation swallowed inside a Redis call
                # (seen with redis-py) must not leave stop() waiting forever.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), interval)

        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(run(), name="loop-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep(self, now: datetime) -> SweepReport:
        report = SweepReport()
        for kind in ("ack", "feedback"):
            for ticket_id in await self.store.due(kind, now):
                await self._overdue(kind, ticket_id, now, report)
        for ticket_id in await self.store.due("followup", now):
            await self._follow_up(ticket_id, now, report)
        await self.store.trim_indexes(now)
        return report

    async def _overdue(self, kind: str, ticket_id: str, now: datetime, report: SweepReport) -> None:
        ticket = await self.store.get_ticket(ticket_id)
        await self.store.clear_due(kind, ticket_id)  # one alert per step, not per sweep
        if ticket is None:
            return
        late = [b for b in sla.breaches(ticket, now, self.loop) if b.kind == kind]
        if not late:
            return
        report.alerts.append(f"{kind}:{ticket_id}")
        detail = {
            "ticket": ticket_id,
            "city": ticket.city,
            "route": ticket.route,
            "step": kind,
            "due_at": late[0].due_at.isoformat(),
        }
        await self.store.raise_alert("sla_breach", detail, now)
        await self.store.count_metric(ticket, f"sla_{kind}")
        await self.store.add_note(
            ticket_id,
            actor="sweep",
            now=now,
            detail={"alert": f"{kind} overdue", "due_at": late[0].due_at.isoformat()},
        )
        if self.loop.escalate_overdue:
            await self.escalate(ticket, f"{kind} overdue", now)
            report.escalated.append(ticket_id)

    async def escalate(
        self, ticket: Ticket, reason: str, now: datetime, actor: str = "sweep"
    ) -> Transition:
        """Send the matter back to 110: ticket escalated, receiver told, call-back task."""
        result = await self.store.transition(
            ticket.id, Step.ESCALATE, actor=actor, detail={"reason": reason}, now=now
        )
        if result.applied:
            await self.store.create_callback_task(
                call_id=ticket.call_id,
                city=ticket.city,
                caller=ticket.caller,
                heard=ticket.transcript,
                reason=f"escalated {ticket.id}: {reason}",
                at=now,
            )
        return result

    # ----------------------------------------------------------- follow-up

    async def _follow_up(self, ticket_id: str, now: datetime, report: SweepReport) -> None:
        ticket = await self.store.get_ticket(ticket_id)
        if ticket is None or ticket.state is not LoopState.FEEDBACK:
            await self.store.clear_due("followup", ticket_id)
            return
        if self.originator is None:
            await self.store.to_manual_followup(ticket_id, now)
            report.manual.append(ticket_id)
            return
        retry_at = now + timedelta(minutes=self.loop.survey_retry_minutes)
        tries = await self.store.reschedule_followup(ticket_id, retry_at)
        if tries > self.loop.survey_max_attempts:
            await self.store.to_manual_followup(ticket_id, now)
            report.manual.append(ticket_id)
            return
        try:
            placed = await self.originator.originate(
                ticket.caller,
                context=self.loop.survey_context,
                variables={"GW_TICKET": ticket.id},
            )
        except Exception as exc:  # the AMI edge failed: retry later, like no answer
            log.warning("survey_originate_failed", ticket=ticket.id, error=str(exc))
            placed = False
        (report.surveys_placed if placed else report.surveys_failed).append(ticket_id)
        await self.store.add_note(
            ticket_id, actor="survey", now=now, detail={"survey_try": tries, "placed": placed}
        )

    async def survey_result(
        self,
        ticket_id: str,
        result: str | int,
        now: datetime | None = None,
        actor: str = "survey",
    ) -> Transition:
        """SurveyResult user event (Result 1 satisfied, 2 not): 回访 done, loop closed.
        An unsatisfied caller raises an alert (and a repeat call will go to 110)."""
        now = now or datetime.now(UTC)
        satisfaction = survey_satisfaction(result)
        ticket = await self.store.get_ticket(ticket_id)
        if ticket is None:
            raise TicketNotFound(ticket_id)
        if satisfaction is None:
            return Transition(Verdict.REFUSED, ticket, f"unknown survey result {result!r}")
        followed = await self.store.transition(
            ticket_id,
            Step.FOLLOW_UP,
            actor=actor,
            now=now,
            detail={"satisfaction": satisfaction},
        )
        if not followed.applied:
            return followed
        if satisfaction == "unsatisfied":
            await self.store.raise_alert(
                "unsatisfied",
                {"ticket": ticket_id, "city": ticket.city, "route": ticket.route},
                now,
            )
        return await self.store.transition(
            ticket_id, Step.CLOSE, actor=actor, now=now, detail={"satisfaction": satisfaction}
        )
