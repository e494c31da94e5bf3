"""Tickets and the closed loop, pure: model, loop state machine, schema, repeat policy, SLA,
statistics. Redis lives in :mod:`gateway.store`; HTTP in :mod:`gateway.web`."""

from gateway.tickets.loop import Step, Transition, Verdict, apply
from gateway.tickets.model import EntityRef, LoopState, Ticket, TimelineEntry, new_ticket_id
from gateway.tickets.repeat import PriorCall, RepeatInfo, decide_repeat
from gateway.tickets.schema import SCHEMA, to_json, to_open311

__all__ = [
    "SCHEMA",
    "EntityRef",
    "LoopState",
    "PriorCall",
    "RepeatInfo",
    "Step",
    "Ticket",
    "TimelineEntry",
    "Transition",
    "Verdict",
    "apply",
    "decide_repeat",
    "new_ticket_id",
    "to_json",
    "to_open311",
]
