from __future__ import annotations

from datetime import timedelta

from gateway.tickets.loop import Step, apply
from gateway.tickets.model import EntityRef
from gateway.tickets.schema import SCHEMA, from_record, to_json, to_open311, to_record
from tests.tickets.helpers import T0, make_ticket


class _Entity:
    def __init__(self, kind, value):
        self.kind, self.value = kind, value


def test_public_json_masks_the_caller_and_names_the_schema_version():
    data = to_json(make_ticket())
    assert data["schema"] == SCHEMA == "gw.ticket/1"
    assert data["caller"] == "138****5678"
    assert data["state"] == "accepted" and data["state_zh"] == "受理"


def test_record_round_trips_with_transcript_and_entities_kept_apart():
    ticket = make_ticket(entities=[_Entity("plate", "赣A12345")])
    record = to_record(ticket)
    assert "transcript" not in record and record["caller"] == "13812345678"
    back = from_record(record, ticket.transcript, [{"kind": "plate", "value": "赣A12345"}])
    assert back == ticket


def test_open311_view_carries_service_code_address_and_status():
    ticket = make_ticket(entities=[_Entity("address", "八一广场东侧")])
    view = to_open311(ticket)
    assert view["service_code"] == "12345.move_car"
    assert view["address_string"] == "八一广场东侧"
    assert view["requested_datetime"] == T0.isoformat()
    assert view["status"] == "open"
    done = apply(
        apply(ticket, Step.TRANSFER, actor="x", at=T0).ticket,
        Step.FEEDBACK,
        actor="x",
        at=T0 + timedelta(hours=1),
        detail={"outcome": "resolved"},
    ).ticket
    assert to_open311(done)["status"] == "closed"


def test_entities_become_entity_refs():
    assert make_ticket(entities=[_Entity("phone", "13900000000")]).entities == (
        EntityRef("phone", "13900000000"),
    )


_TYPES = {
    "string": str,
    "number": (int, float),
    "integer": int,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _conforms(value, schema) -> list[str]:
    """A small JSON Schema subset check (type, required, enum, const, items)."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    if kinds and not any(isinstance(value, _TYPES[k]) for k in kinds):
        return [f"{value!r} is not {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{value!r} not in enum"]
    if "const" in schema and value != schema["const"]:
        return [f"{value!r} != const"]
    problems = []
    if isinstance(value, dict):
        problems += [f"missing {k}" for k in schema.get("required", []) if k not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                problems += _conforms(value[key], sub)
    if isinstance(value, list) and "items" in schema:
        for item in value:
            problems += _conforms(item, schema["items"])
    return problems


def test_public_json_matches_the_published_json_schema():
    from gateway.tickets.schema import JSON_SCHEMA

    ticket = apply(
        make_ticket(entities=[_Entity("plate", "赣A12345")], route_ms=5000),
        Step.TRANSFER,
        actor="outbox",
        at=T0,
    ).ticket
    data = to_json(ticket)
    assert _conforms(data, JSON_SCHEMA) == []
    assert set(data) == set(JSON_SCHEMA["properties"])  # docs and output stay in step
