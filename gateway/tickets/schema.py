"""Ticket JSON, schema version 1, and its Open311 GeoReport v2 view.

Every ticket leaves the gateway (webhook body, API answer) as this JSON object::

    {
      "schema": "gw.ticket/1",           # name/version; a breaking change bumps the number
      "id": "1129-4839207",              # short, read out on the phone
      "call_id": "<uuid of the call>",
      "city": "nanchang",
      "caller": "138****5678",           # masked, always
      "route": "12345",                  # 110 | 119 | 120 | 12345 | mediation
      "category": "move_car",
      "confidence": 0.86,
      "created_at": "2026-11-29T20:41:00+00:00",   # ISO 8601, UTC
      "transcript": "...",               # "" once retention has expired it
      "entities": [{"kind": "plate", "value": "赣A12345"}],
      "evidence": ["move_car『挡住』"],
      "rule": "divert",
      "route_reason": "triage",          # or trunk-BUSY, caller-pressed-1, repeat-unresolved ...
      "intended_route": "",              # the route triage chose when the call fell back to 110
      "route_ms": 8200,                  # answer → hand-off, null when unknown
      "linked": ["1127-5550123"],        # earlier tickets: same caller, same matter
      "flags": ["repeat"],
      "state": "transferred",            # current loop state (see below)
      "state_zh": "流转",
      "outcome": "",                     # centre feedback: resolved|unresolved|referred|no_contact
      "satisfaction": "",                # satisfied | unsatisfied (follow-up)
      "timeline": [{"state": "accepted", "at": "...", "actor": "gateway", "detail": {}}]
    }

Loop states: accepted (受理), transferred (流转), handling (处置), feedback (反馈),
followed_up (回访), closed (办结), escalated (退回110); timeline entries with state
"note" are alerts or remarks. Consumers must ignore unknown fields (additions keep
version 1). The storage form (:func:`to_record`) also keeps the full caller number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.tickets.model import LOOP_LABELS_ZH, EntityRef, LoopState, Ticket, TimelineEntry

SCHEMA = "gw.ticket/1"

OPEN311_STATUS = {
    LoopState.ACCEPTED: "open",
    LoopState.TRANSFERRED: "open",
    LoopState.HANDLING: "open",
    LoopState.FEEDBACK: "closed",
    LoopState.FOLLOWED_UP: "closed",
    LoopState.CLOSED: "closed",
    LoopState.ESCALATED: "closed",
}


def _entry_json(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "state": entry.state,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "detail": entry.detail,
    }


def to_json(ticket: Ticket) -> dict[str, Any]:
    """The public, versioned form (caller masked)."""
    state = ticket.state
    return {
        "schema": SCHEMA,
        "id": ticket.id,
        "call_id": ticket.call_id,
        "city": ticket.city,
        "caller": ticket.caller_masked,
        "route": ticket.route,
        "category": ticket.category,
        "confidence": round(ticket.confidence, 3),
        "created_at": ticket.created_at.isoformat(),
        "transcript": ticket.transcript,
        "entities": [{"kind": e.kind, "value": e.value} for e in ticket.entities],
        "evidence": list(ticket.evidence),
        "rule": ticket.rule,
        "route_reason": ticket.route_reason,
        "intended_route": ticket.intended_route,
        "route_ms": ticket.route_ms,
        "linked": list(ticket.linked),
        "flags": list(ticket.flags),
        "state": state.value,
        "state_zh": LOOP_LABELS_ZH[state.value],
        "outcome": ticket.outcome,
        "satisfaction": ticket.satisfaction,
        "timeline": [_entry_json(e) for e in ticket.timeline],
    }


def to_record(ticket: Ticket) -> dict[str, Any]:
    """Storage form: the public form plus the unmasked caller, without the transcript
    and entities (those are stored apart so that they can expire)."""
    record = to_json(ticket)
    record["caller"] = ticket.caller
    record.pop("transcript")
    record.pop("entities")
    return record


def from_record(
    record: dict[str, Any], transcript: str = "", entities: list[dict[str, str]] | None = None
) -> Ticket:
    return Ticket(
        id=record["id"],
        call_id=record["call_id"],
        city=record["city"],
        caller=record["caller"],
        route=record["route"],
        category=record["category"],
        confidence=float(record["confidence"]),
        created_at=datetime.fromisoformat(record["created_at"]),
        transcript=transcript,
        entities=tuple(EntityRef(e["kind"], e["value"]) for e in entities or ()),
        evidence=tuple(record.get("evidence", ())),
        rule=record.get("rule", ""),
        route_reason=record.get("route_reason", ""),
        intended_route=record.get("intended_route", ""),
        route_ms=record.get("route_ms"),
        linked=tuple(record.get("linked", ())),
        flags=tuple(record.get("flags", ())),
        timeline=tuple(
            TimelineEntry(e["state"], datetime.fromisoformat(e["at"]), e["actor"], e["detail"])
            for e in record.get("timeline", ())
        ),
        outcome=record.get("outcome", ""),
        satisfaction=record.get("satisfaction", ""),
    )


def _address(ticket: Ticket) -> str:
    for kind in ("address", "landmark"):
        for entity in ticket.entities:
            if entity.kind == kind:
                return entity.value
    return ""


def to_open311(ticket: Ticket) -> dict[str, Any]:
    """Open311 GeoReport v2 service request view of the same ticket."""
    state = ticket.state
    updated = ticket.timeline[-1].at if ticket.timeline else ticket.created_at
    return {
        "service_request_id": ticket.id,
        "status": OPEN311_STATUS[state],
        "status_notes": f"{LOOP_LABELS_ZH[state.value]} {ticket.outcome}".strip(),
        "service_name": ticket.category,
        "service_code": f"{ticket.route}.{ticket.category}",
        "description": ticket.transcript,
        "agency_responsible": f"{ticket.city}/{ticket.route}",
        "service_notice": "",
        "requested_datetime": ticket.created_at.isoformat(),
        "updated_datetime": updated.isoformat(),
        "expected_datetime": None,
        "address": _address(ticket),
        "address_string": _address(ticket),
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _s(kind: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"type": kind, **extra}


# Machine-readable form of the layout above (JSON Schema draft 2020-12).
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://hotline-gateway/schemas/gw.ticket/1",
    "title": "Hotline gateway ticket, version 1",
    "type": "object",
    "required": [
        "schema",
        "id",
        "call_id",
        "city",
        "caller",
        "route",
        "category",
        "confidence",
        "created_at",
        "transcript",
        "entities",
        "evidence",
        "rule",
        "route_reason",
        "intended_route",
        "route_ms",
        "linked",
        "flags",
        "state",
        "state_zh",
        "outcome",
        "satisfaction",
        "timeline",
    ],
    "properties": {
        "schema": _s("string", const=SCHEMA),
        "id": _s("string", pattern=r"^\d{4}-\d{7}$"),
        "call_id": _s("string"),
        "city": _s("string"),
        "caller": _s("string", description="masked: 138****5678"),
        "route": _s("string", enum=["110", "119", "120", "12345", "mediation"]),
        "category": _s("string"),
        "confidence": _s("number", minimum=0, maximum=1),
        "created_at": _s("string", format="date-time"),
        "transcript": _s("string"),
        "entities": _s(
            "array",
            items=_s(
                "object",
                required=["kind", "value"],
                properties={
                    "kind": _s("string", enum=["plate", "address", "landmark", "phone"]),
                    "value": _s("string"),
                },
            ),
        ),
        "evidence": _s("array", items=_s("string")),
        "rule": _s("string"),
        "route_reason": _s("string"),
        "intended_route": _s("string"),
        "route_ms": _s(["integer", "null"]),
        "linked": _s("array", items=_s("string")),
        "flags": _s("array", items=_s("string")),
        "state": _s("string", enum=[s.value for s in LoopState]),
        "state_zh": _s("string"),
        "outcome": _s("string", enum=["", "resolved", "unresolved", "referred", "no_contact"]),
        "satisfaction": _s("string", enum=["", "satisfied", "unsatisfied"]),
        "timeline": _s(
            "array",
            items=_s(
                "object",
                required=["state", "at", "actor", "detail"],
                properties={
                    "state": _s("string"),
                    "at": _s("string", format="date-time"),
                    "actor": _s("string"),
                    "detail": _s("object"),
                },
            ),
        ),
    },
}
