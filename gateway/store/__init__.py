"""The Redis edge: tickets, loop indexes, caller index, counters, call records,
callback tasks, the durable outbox and the event stream the board follows."""

from gateway.store.connection import make_client
from gateway.store.errors import StoreUnavailable, TicketNotFound
from gateway.store.events import EventBus
from gateway.store.loop_keeper import LoopKeeper, Originator, SweepReport
from gateway.store.outbox_queue import OutboxQueue
from gateway.store.ticket_store import OutboxMessage, TicketStore

__all__ = [
    "EventBus",
    "LoopKeeper",
    "Originator",
    "OutboxMessage",
    "OutboxQueue",
    "StoreUnavailable",
    "SweepReport",
    "TicketNotFound",
    "TicketStore",
    "make_client",
]
