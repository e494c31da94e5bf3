"""Overdue loop steps: which SLA a ticket has broken at a given time (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.settings import LoopSettings
from gateway.tickets.model import TERMINAL_STATES, LoopState, Ticket


@dataclass(frozen=True)
class Breach:
    kind: str  # "ack" | "feedback"
    due_at: datetime


def ack_due(ticket: Ticket, loop: LoopSettings) -> datetime:
    start = ticket.reached_at(LoopState.TRANSFERRED) or ticket.created_at
    return start + timedelta(minutes=loop.ack_sla_minutes)


def feedback_due(ticket: Ticket, loop: LoopSettings) -> datetime:
    return ticket.created_at + timedelta(days=loop.feedback_sla_days)


def followup_due(ticket: Ticket, loop: LoopSettings) -> datetime | None:
    at = ticket.reached_at(LoopState.FEEDBACK)
    return at + timedelta(hours=loop.followup_after_hours) if at else None


def breaches(ticket: Ticket, now: datetime, loop: LoopSettings) -> list[Breach]:
    """SLA steps the ticket is late on at ``now`` (empty for 110 tickets and closed loops)."""
    if not ticket.loop_required or ticket.state in TERMINAL_STATES:
        return []
    found = []
    acked = ticket.reached(LoopState.HANDLING) or ticket.reached(LoopState.FEEDBACK)
    if not acked and now >= ack_due(ticket, loop):
        found.append(Breach("ack", ack_due(ticket, loop)))
    if not ticket.reached(LoopState.FEEDBACK) and now >= feedback_due(ticket, loop):
        found.append(Breach("feedback", feedback_due(ticket, loop)))
    return found
