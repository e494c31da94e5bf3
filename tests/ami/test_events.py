"""Typed events and the channel table, fed with a real Asterisk capture (scenario 05)."""

from __future__ import annotations

from pathlib import Path

from gateway.ami.channels import ChannelTable
from gateway.ami.events import (
    AmiEvent,
    BridgeEnter,
    DialBegin,
    DialEnd,
    DTMFEnd,
    GenericEvent,
    Hangup,
    Newchannel,
    Newexten,
    OriginateResponse,
    TrunkStatus,
    UserEvent,
    VarSet,
    parse_event,
)
from gateway.ami.protocol import MessageParser, first


def _events(path: Path) -> list[AmiEvent]:
    parser = MessageParser(expect_banner=True)
    return [parse_event(m) for m in parser.feed(path.read_bytes()) if first(m, "Event")]


def test_full_call_capture_becomes_typed_events(transcripts: Path) -> None:
    events = _events(transcripts / "05-full-call-flow.ami.rx.txt")
    kinds = {type(e) for e in events}
    assert {
        Newchannel,
        Newexten,
        VarSet,
        DialBegin,
        DialEnd,
        BridgeEnter,
        DTMFEnd,
        Hangup,
        UserEvent,
        OriginateResponse,
        GenericEvent,
    } <= kinds
    start = next(e for e in events if isinstance(e, UserEvent) and e.channel is not None)
    assert start.user_event == "GatewayCallStart"
    assert start.fields["Uuid"] == "4dbee5ee-6ad7-40b2-93e3-777f63539183"
    assert start.channel is not None and start.channel.context == "gateway-in"
    dtmf = [e.digit for e in events if isinstance(e, DTMFEnd) and e.channel.channel.endswith(";1")]
    assert dtmf[:4] == ["1", "2", "3", "#"]
    answered = next(e for e in events if isinstance(e, DialEnd) and e.caller is not None)
    assert answered.dial_status == "ANSWER"
    assert answered.dest is not None and answered.dest.channel.startswith("Local/agent@")
    hangup = next(e for e in events if isinstance(e, Hangup))
    assert (hangup.cause, hangup.cause_txt) == (16, "Normal Clearing")


def test_empty_varset_value_is_an_empty_string_not_missing(transcripts: Path) -> None:
    events = _events(transcripts / "05-full-call-flow.ami.rx.txt")
    dialstatus = next(e for e in events if isinstance(e, VarSet) and e.variable == "DIALSTATUS")
    assert dialstatus.value == ""


def test_originate_failures_carry_reason_codes(transcripts: Path) -> None:
    events = _events(transcripts / "12-originate-variants.ami.rx.txt")
    results = {
        e.channel_name: (e.success, e.reason_name)
        for e in events
        if isinstance(e, OriginateResponse)
    }
    assert results["Local/busy@agent-sim"] == (False, "BUSY")
    assert results["Local/noanswer@agent-sim"] == (False, "NO_ANSWER")
    assert results["Foo/bar"] == (False, "FAILED")


def test_channel_table_follows_a_call_and_forgets_it_on_hangup(transcripts: Path) -> None:
    table = ChannelTable(tracked_prefixes=("AS_", "ROUTE_"))
    peak = 0
    seen_uuid = None
    for event in _events(transcripts / "05-full-call-flow.ami.rx.txt"):
        table.apply(event)
        peak = max(peak, len(table))
        caller = table.by_name("Local/s@caller-sim-00000000;1")
        if caller is not None and "AS_UUID" in caller.variables:
            seen_uuid = caller.variables["AS_UUID"]
            assert caller.caller_id_num in ("15551234567", "<unknown>")
    assert peak == 4
    assert seen_uuid == "4dbee5ee-6ad7-40b2-93e3-777f63539183"
    assert len(table) == 0


def test_trunk_health_events_become_trunk_status() -> None:
    contact = parse_event(
        [
            ("Event", "ContactStatus"),
            ("URI", "sip:x@192.0.2.1"),
            ("ContactStatus", "Unreachable"),
            ("AOR", "nanchang-12345"),
            ("EndpointName", "nanchang-12345"),
            ("RoundtripUsec", "0"),
        ]
    )
    peer = parse_event(
        [
            ("Event", "PeerStatus"),
            ("ChannelType", "PJSIP"),
            ("Peer", "PJSIP/nanchang-110"),
            ("PeerStatus", "Reachable"),
        ]
    )
    registry = parse_event(
        [
            ("Event", "Registry"),
            ("ChannelType", "pjsip"),
            ("Username", "sip:gw@carrier"),
            ("Domain", "sip:carrier"),
            ("Status", "Rejected"),
        ]
    )
    assert isinstance(contact, TrunkStatus) and (contact.endpoint, contact.reachable) == (
        "nanchang-12345",
        False,
    )
    assert isinstance(peer, TrunkStatus) and (peer.endpoint, peer.reachable) == (
        "nanchang-110",
        True,
    )
    assert isinstance(registry, TrunkStatus) and registry.reachable is False


def test_unknown_event_passes_through_with_its_headers() -> None:
    event = parse_event([("Event", "QueueMemberStatus"), ("Queue", "support")])
    assert isinstance(event, GenericEvent)
    assert event.get("Queue") == "support"
