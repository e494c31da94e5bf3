from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.tickets.create import new_ticket
from gateway.tickets.model import Ticket

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def make_ticket(**overrides: Any) -> Ticket:
    fields: dict[str, Any] = {
        "call_id": "call-1",
        "city": "nanchang",
        "caller": "13812345678",
        "route": "12345",
        "category": "move_car",
        "confidence": 0.9,
        "now": T0,
        "transcript": "车被挡住了",
        "ticket_id": "1129-1234567",
    }
    fields.update(overrides)
    return new_ticket(**fields)
