"""Repeat callers (重复警情) and abuse flags: a pure decision over a caller's history.

The store reads the caller's recent tickets; this module decides whether the new
call is a repeat about the same matter, whether that matter is still unresolved
after being diverted (then the call must go to 110 with the history), and whether
the number deserves an abuse/prank warning. A warning never blocks 110.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.settings import DIVERTED_ROUTES, LoopSettings
from gateway.tickets.model import LoopState

RESOLVED_OUTCOMES = frozenset({"resolved"})
# calls with nothing usable in them count towards a prank score
EMPTY_CATEGORIES = frozenset({"unclear", "silence", "prank"})


@dataclass(frozen=True)
class PriorCall:
    """What the caller index remembers about one earlier ticket."""

    ticket_id: str
    category: str
    route: str
    state: str
    outcome: str
    satisfaction: str
    created_at: datetime

    @property
    def unresolved_diversion(self) -> bool:
        if self.route not in DIVERTED_ROUTES:
            return False
        if self.state == LoopState.ESCALATED:
            return True
        if self.satisfaction == "unsatisfied":
            return True
        if self.state in (LoopState.CLOSED, LoopState.FOLLOWED_UP, LoopState.FEEDBACK):
            return self.outcome not in ("", *RESOLVED_OUTCOMES) and self.outcome != "referred"
        return True  # accepted, transferred or handling: nobody has solved it yet


@dataclass(frozen=True)
class RepeatInfo:
    repeat: bool = False
    linked: tuple[str, ...] = ()  # earlier tickets about the same matter, newest first
    send_to_110: bool = False  # an unresolved diverted matter: escalate to 110
    reason: str = ""
    abuse_warning: bool = False
    abuse_score: float = 0.0
    calls_in_window: int = 0  # all calls from this number within repeat_window_hours

    @property
    def flags(self) -> tuple[str, ...]:
        flags = []
        if self.repeat:
            flags.append("repeat")
        if self.send_to_110:
            flags.append("repeat-unresolved")
        if self.abuse_warning:
            flags.append("abuse-warning")
        return tuple(flags)


def abuse_score(number: str, prior: list[PriorCall], now: datetime, loop: LoopSettings) -> float:
    """0..1: listed numbers score 1; else many calls with nothing usable in a short time."""
    if number in loop.abusive_numbers:
        return 1.0
    since = now - timedelta(hours=loop.abuse_window_hours)
    recent = [p for p in prior if p.created_at >= since]
    if len(recent) < 3:
        return 0.0
    empty = sum(1 for p in recent if p.category in EMPTY_CATEGORIES)
    volume = min(1.0, (len(recent) - 2) / 8)
    return round(min(1.0, 0.5 * volume + 0.5 * empty / len(recent) + 0.1 * (empty >= 3)), 3)


def decide_repeat(
    number: str,
    category: str | None,
    now: datetime,
    prior: list[PriorCall],
    loop: LoopSettings,
) -> RepeatInfo:
    """Is this call a repeat about the same matter, and must it go to 110?"""
    if not number:
        return RepeatInfo()
    since = now - timedelta(hours=loop.repeat_window_hours)
    window = sorted(
        (p for p in prior if since <= p.created_at <= now),
        key=lambda p: p.created_at,
        reverse=True,
    )
    same = [p for p in window if category is None or p.category == category]
    score = abuse_score(number, prior, now, loop)
    warn = score >= loop.abuse_warn_score
    if not same:
        return RepeatInfo(abuse_warning=warn, abuse_score=score, calls_in_window=len(window))
    unresolved = [p for p in same if p.unresolved_diversion]
    reason = (
        f"repeat about unresolved {unresolved[0].route} ticket {unresolved[0].ticket_id}"
        if unresolved
        else f"repeat of ticket {same[0].ticket_id}"
    )
    return RepeatInfo(
        repeat=True,
        linked=tuple(p.ticket_id for p in same),
        send_to_110=bool(unresolved),
        reason=reason,
        abuse_warning=warn,
        abuse_score=score,
        calls_in_window=len(window),
    )
