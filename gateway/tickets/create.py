"""Build a new ticket from what the call path knows (pure; the id is made here so the
call can carry it even when Redis is down)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from gateway.tickets.model import EntityRef, Ticket, TimelineEntry, new_ticket_id
from gateway.tickets.repeat import RepeatInfo


class _EntityLike(Protocol):
    kind: str
    value: str


def evidence_lines(evidence: Iterable[Any]) -> tuple[str, ...]:
    """Evidence objects (rule, words) or ready strings → "rule『words』"."""
    lines = []
    for item in evidence:
        if isinstance(item, str):
            lines.append(item)
        else:
            lines.append(f"{item.rule}『{item.words}』")
    return tuple(lines)


def new_ticket(
    *,
    call_id: str,
    city: str,
    caller: str,
    route: str,
    category: str,
    confidence: float,
    now: datetime,
    transcript: str = "",
    entities: Iterable[_EntityLike] = (),
    evidence: Iterable[Any] = (),
    rule: str = "",
    route_reason: str = "",
    intended_route: str = "",
    route_ms: int | None = None,
    repeat: RepeatInfo | None = None,
    extra_flags: Iterable[str] = (),
    ticket_id: str | None = None,
    rng: random.Random | None = None,
) -> Ticket:
    repeat = repeat or RepeatInfo()
    flags = tuple(dict.fromkeys((*repeat.flags, *extra_flags)))
    accepted = TimelineEntry(
        "accepted", now, "gateway", {"route": route, "reason": route_reason or rule}
    )
    return Ticket(
        id=ticket_id or new_ticket_id(now, rng),
        call_id=call_id,
        city=city,
        caller=caller,
        route=route,
        category=category,
        confidence=float(confidence),
        created_at=now,
        transcript=transcript,
        entities=tuple(EntityRef(e.kind, e.value) for e in entities),
        evidence=evidence_lines(evidence),
        rule=rule,
        route_reason=route_reason,
        intended_route=intended_route,
        route_ms=route_ms,
        linked=repeat.linked,
        flags=flags,
        timeline=(accepted,),
    )
