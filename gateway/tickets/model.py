"""The ticket: what one handled call leaves behind, and its loop timeline.

Pure data, no I/O. A ticket is created for every call the gateway handles
(diverted or kept on 110); its ``timeline`` records each loop step with the time
and who did it. JSON layout: see :mod:`gateway.tickets.schema`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from gateway.logs import mask_number
from gateway.settings import DIVERTED_ROUTES


class LoopState(StrEnum):
    ACCEPTED = "accepted"  # 受理
    TRANSFERRED = "transferred"  # 流转
    HANDLING = "handling"  # 处置
    FEEDBACK = "feedback"  # 反馈
    FOLLOWED_UP = "followed_up"  # 回访
    CLOSED = "closed"  # 办结
    ESCALATED = "escalated"  # 退回110


LOOP_LABELS_ZH: dict[str, str] = {
    "accepted": "受理",
    "transferred": "流转",
    "handling": "处置",
    "feedback": "反馈",
    "followed_up": "回访",
    "closed": "办结",
    "escalated": "退回110",
}

TERMINAL_STATES = frozenset({LoopState.CLOSED, LoopState.ESCALATED})


@dataclass(frozen=True)
class EntityRef:
    """What triage found in the caller's words (see ivr.triage.result.Entity)."""

    kind: str  # plate | address | landmark | phone
    value: str


@dataclass(frozen=True)
class TimelineEntry:
    state: str  # a LoopState value, or "note" for alerts and remarks
    at: datetime
    actor: str  # "gateway", "outbox", "centre:<name>", "supervisor:<name>", "survey"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ticket:
    id: str
    call_id: str
    city: str
    caller: str  # full number; only ``caller_masked`` leaves the gateway on screens
    route: str
    category: str
    confidence: float
    created_at: datetime
    transcript: str = ""
    entities: tuple[EntityRef, ...] = ()
    evidence: tuple[str, ...] = ()  # "rule『words』" lines: why this route
    rule: str = ""
    route_reason: str = ""  # e.g. "triage", "trunk-BUSY", "caller-pressed-1"
    intended_route: str = ""  # where triage wanted it when it fell back to 110
    route_ms: int | None = None  # answer → Redirect
    linked: tuple[str, ...] = ()  # earlier tickets from the same caller about the same matter
    flags: tuple[str, ...] = ()  # "repeat", "repeat-unresolved", "abuse-warning", "callback"
    timeline: tuple[TimelineEntry, ...] = ()
    outcome: str = ""  # feedback outcome from the centre
    satisfaction: str = ""  # "satisfied" | "unsatisfied" | ""

    @property
    def state(self) -> LoopState:
        for entry in reversed(self.timeline):
            if entry.state != "note":
                return LoopState(entry.state)
        return LoopState.ACCEPTED

    @property
    def caller_masked(self) -> str:
        return mask_number(self.caller)

    @property
    def diverted(self) -> bool:
        return self.route in DIVERTED_ROUTES

    @property
    def loop_required(self) -> bool:
        """The province's closed loop applies to diverted matters."""
        return self.diverted

    def reached(self, state: LoopState) -> bool:
        return any(entry.state == state for entry in self.timeline)

    def reached_at(self, state: LoopState) -> datetime | None:
        for entry in self.timeline:
            if entry.state == state:
                return entry.at
        return None

    def with_entry(self, entry: TimelineEntry, **changes: Any) -> Ticket:
        return replace(self, timeline=(*self.timeline, entry), **changes)


_ID_DIGITS = 7


# The province's day: China Standard Time (no daylight saving). Ticket ids and statistics
# count the same days: a ticket made at 03:48 in 南昌 carries that date, not yesterday's UTC.
SERVICE_TZ = timezone(timedelta(hours=8), "CST")


def service_day(at: datetime) -> str:
    """MMDD of ``at`` in China Standard Time (a naive ``at`` is taken as UTC)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return f"{aware.astimezone(SERVICE_TZ):%m%d}"


def new_ticket_id(now: datetime, rng: random.Random | None = None) -> str:
    """A ticket id made without Redis: MMDD-9NNNNNNN (8 digits, starting with 9).

    Used only when the store cannot hand out a sequence number in time (see
    ``sequenced_ticket_id``): its length keeps it apart from every sequenced id, so it
    can only clash with another offline id of the same day (1 in 10^7 per pair).
    """
    rng = rng or random.SystemRandom()
    number = rng.randrange(10**_ID_DIGITS)
    return f"{service_day(now)}-9{number:0{_ID_DIGITS}d}"


def sequenced_ticket_id(now: datetime, sequence: int) -> str:
    """The normal id: MMDD-NNNNNNN from the store's daily counter — short, read as digits,
    and unique (the counter is atomic across gateway instances)."""
    return f"{service_day(now)}-{sequence:0{_ID_DIGITS}d}"


def utcnow() -> datetime:
    return datetime.now(UTC)
