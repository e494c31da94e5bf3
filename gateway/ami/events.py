"""AMI events turned into typed domain events (pure: headers in, dataclass out).

Field names follow Asterisk 22 as captured in tests/fixtures/asterisk. Every event
keeps its raw ordered headers in ``headers`` so nothing Asterisk said is lost; events we
do not type arrive as :class:`GenericEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from gateway.ami.protocol import Pairs, first


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except ValueError:
        return default


@dataclass(frozen=True, kw_only=True)
class ChannelSnapshot:
    """The block of channel headers Asterisk puts in every channel event."""

    channel: str
    uniqueid: str
    linkedid: str = ""
    state: int = 0
    state_desc: str = ""
    caller_id_num: str = ""
    caller_id_name: str = ""
    connected_line_num: str = ""
    connected_line_name: str = ""
    context: str = ""
    exten: str = ""
    priority: int = 0
    language: str = ""
    account_code: str = ""

    @classmethod
    def from_headers(cls, pairs: Pairs, prefix: str = "") -> ChannelSnapshot | None:
        name = first(pairs, prefix + "Channel")
        if not name:
            return None
        return cls(
            channel=name,
            uniqueid=first(pairs, prefix + "Uniqueid"),
            linkedid=first(pairs, prefix + "Linkedid"),
            state=_int(first(pairs, prefix + "ChannelState")),
            state_desc=first(pairs, prefix + "ChannelStateDesc"),
            caller_id_num=first(pairs, prefix + "CallerIDNum"),
            caller_id_name=first(pairs, prefix + "CallerIDName"),
            connected_line_num=first(pairs, prefix + "ConnectedLineNum"),
            connected_line_name=first(pairs, prefix + "ConnectedLineName"),
            context=first(pairs, prefix + "Context"),
            exten=first(pairs, prefix + "Exten"),
            priority=_int(first(pairs, prefix + "Priority")),
            language=first(pairs, prefix + "Language"),
            account_code=first(pairs, prefix + "AccountCode"),
        )


@dataclass(frozen=True, kw_only=True)
class AmiEvent:
    name: str
    headers: Pairs = field(repr=False, compare=False)

    def get(self, key: str, default: str = "") -> str:
        return first(self.headers, key, default)


@dataclass(frozen=True, kw_only=True)
class GenericEvent(AmiEvent):
    """Any event we do not type (DeviceStateChange, RTCPSent, QueueMemberStatus, …)."""


@dataclass(frozen=True, kw_only=True)
class ChannelEvent(AmiEvent):
    channel: ChannelSnapshot


@dataclass(frozen=True, kw_only=True)
class Newchannel(ChannelEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class Newstate(ChannelEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class Newexten(ChannelEvent):
    extension: str
    application: str
    app_data: str


@dataclass(frozen=True, kw_only=True)
class VarSet(ChannelEvent):
    variable: str
    value: str


@dataclass(frozen=True, kw_only=True)
class GlobalVarSet(AmiEvent):
    """VarSet on a global variable (no channel headers)."""

    variable: str
    value: str


@dataclass(frozen=True, kw_only=True)
class DialBegin(AmiEvent):
    caller: ChannelSnapshot | None  # absent when Originate dials out
    dest: ChannelSnapshot | None
    dial_string: str


@dataclass(frozen=True, kw_only=True)
class DialEnd(AmiEvent):
    caller: ChannelSnapshot | None
    dest: ChannelSnapshot | None
    dial_status: str


@dataclass(frozen=True, kw_only=True)
class BridgeEnter(ChannelEvent):
    bridge_id: str
    bridge_channels: int


@dataclass(frozen=True, kw_only=True)
class BridgeLeave(ChannelEvent):
    bridge_id: str
    bridge_channels: int


@dataclass(frozen=True, kw_only=True)
class DTMFBegin(ChannelEvent):
    digit: str
    direction: str


@dataclass(frozen=True, kw_only=True)
class DTMFEnd(ChannelEvent):
    digit: str
    duration_ms: int
    direction: str


@dataclass(frozen=True, kw_only=True)
class Hangup(ChannelEvent):
    cause: int
    cause_txt: str


@dataclass(frozen=True, kw_only=True)
class UserEvent(AmiEvent):
    """Dialplan UserEvent (with channel headers) or an AMI UserEvent action (without)."""

    user_event: str
    channel: ChannelSnapshot | None
    fields: dict[str, str]


class OriginateReason(IntEnum):
    """Asterisk's control-frame codes reported as ``Reason`` (scenario 12)."""

    FAILED = 0  # no such context/technology, or the channel could not be created
    HANGUP = 1
    RING = 2
    NO_ANSWER = 3  # still ringing when Timeout expired
    ANSWERED = 4
    BUSY = 5
    CONGESTION = 8


@dataclass(frozen=True, kw_only=True)
class OriginateResponse(AmiEvent):
    action_id: str
    response: str  # "Success" or "Failure"
    channel_name: str  # the channel, or the dial string as given on failure
    context: str
    exten: str
    reason: int
    uniqueid: str  # "<unknown>" on failure
    caller_id_num: str
    caller_id_name: str

    @property
    def success(self) -> bool:
        return self.response == "Success"

    @property
    def reason_name(self) -> str:
        try:
            return OriginateReason(self.reason).name
        except ValueError:
            return f"REASON_{self.reason}"


@dataclass(frozen=True, kw_only=True)
class TrunkStatus(AmiEvent):
    """Trunk health from ContactStatus, PeerStatus or Registry, in one shape."""

    endpoint: str
    status: str  # Asterisk's word: Reachable, Unreachable, Registered, Rejected, …
    reachable: bool | None  # None when the word says nothing about reachability
    source: str  # the AMI event it came from
    detail: str = ""  # contact URI, registration domain, …


# Typed snapshot of CoreShowChannel (a list item, not a live event).
@dataclass(frozen=True, kw_only=True)
class ChannelListing(AmiEvent):
    channel: ChannelSnapshot
    application: str
    application_data: str
    bridge_id: str
    duration: str


_REACHABLE = {
    "reachable": True,
    "registered": True,
    "lagged": True,
    "ok": True,
    "unreachable": False,
    "unregistered": False,
    "rejected": False,
    "failed": False,
    "removed": False,
    "unavailable": False,
}


def _trunk_status(name: str, pairs: Pairs) -> TrunkStatus:
    if name == "ContactStatus":
        endpoint = first(pairs, "EndpointName") or first(pairs, "AOR")
        status, detail = first(pairs, "ContactStatus"), first(pairs, "URI")
    elif name == "PeerStatus":
        peer = first(pairs, "Peer")
        endpoint = peer.split("/", 1)[-1]
        status, detail = first(pairs, "PeerStatus"), peer
    else:  # Registry
        endpoint = first(pairs, "Domain") or first(pairs, "Username")
        status, detail = first(pairs, "Status"), first(pairs, "Username")
    return TrunkStatus(
        name=name,
        headers=pairs,
        endpoint=endpoint,
        status=status,
        reachable=_REACHABLE.get(status.lower()),
        source=name,
        detail=detail,
    )


# Headers of a UserEvent that belong to Asterisk, not to the sender.
_USER_EVENT_OWN = {
    "event",
    "privilege",
    "userevent",
    "actionid",
    "channel",
    "channelstate",
    "channelstatedesc",
    "calleridnum",
    "calleridname",
    "connectedlinenum",
    "connectedlinename",
    "language",
    "accountcode",
    "context",
    "exten",
    "priority",
    "uniqueid",
    "linkedid",
}


def _user_event(pairs: Pairs) -> UserEvent:
    return UserEvent(
        name="UserEvent",
        headers=pairs,
        user_event=first(pairs, "UserEvent"),
        channel=ChannelSnapshot.from_headers(pairs),
        fields={k: v for k, v in pairs if k.lower() not in _USER_EVENT_OWN},
    )


def parse_event(pairs: Pairs) -> AmiEvent:
    """Turn one AMI event message into its typed event (GenericEvent if untyped)."""
    name = first(pairs, "Event")
    if name in ("ContactStatus", "PeerStatus", "Registry"):
        return _trunk_status(name, pairs)
    if name == "UserEvent":
        return _user_event(pairs)
    if name == "OriginateResponse":
        return OriginateResponse(
            name=name,
            headers=pairs,
            action_id=first(pairs, "ActionID"),
            response=first(pairs, "Response"),
            channel_name=first(pairs, "Channel"),
            context=first(pairs, "Context"),
            exten=first(pairs, "Exten"),
            reason=_int(first(pairs, "Reason"), -1),
            uniqueid=first(pairs, "Uniqueid"),
            caller_id_num=first(pairs, "CallerIDNum"),
            caller_id_name=first(pairs, "CallerIDName"),
        )
    if name in ("DialBegin", "DialEnd"):
        caller = ChannelSnapshot.from_headers(pairs)
        dest = ChannelSnapshot.from_headers(pairs, "Dest")
        if name == "DialBegin":
            return DialBegin(
                name=name,
                headers=pairs,
                caller=caller,
                dest=dest,
                dial_string=first(pairs, "DialString"),
            )
        return DialEnd(
            name=name,
            headers=pairs,
            caller=caller,
            dest=dest,
            dial_status=first(pairs, "DialStatus"),
        )
    channel = ChannelSnapshot.from_headers(pairs)
    if channel is None:
        if name == "VarSet":
            return GlobalVarSet(
                name=name,
                headers=pairs,
                variable=first(pairs, "Variable"),
                value=first(pairs, "Value"),
            )
        return GenericEvent(name=name, headers=pairs)
    return _channel_event(name, pairs, channel)


def _channel_event(name: str, pairs: Pairs, channel: ChannelSnapshot) -> AmiEvent:
    match name:
        case "Newchannel":
            return Newchannel(name=name, headers=pairs, channel=channel)
        case "Newstate":
            return Newstate(name=name, headers=pairs, channel=channel)
        case "Newexten":
            return Newexten(
                name=name,
                headers=pairs,
                channel=channel,
                extension=first(pairs, "Extension"),
                application=first(pairs, "Application"),
                app_data=first(pairs, "AppData"),
            )
        case "VarSet":
            return VarSet(
                name=name,
                headers=pairs,
                channel=channel,
                variable=first(pairs, "Variable"),
                value=first(pairs, "Value"),
            )
        case "BridgeEnter" | "BridgeLeave":
            cls = BridgeEnter if name == "BridgeEnter" else BridgeLeave
            return cls(
                name=name,
                headers=pairs,
                channel=channel,
                bridge_id=first(pairs, "BridgeUniqueid"),
                bridge_channels=_int(first(pairs, "BridgeNumChannels")),
            )
        case "DTMFBegin":
            return DTMFBegin(
                name=name,
                headers=pairs,
                channel=channel,
                digit=first(pairs, "Digit"),
                direction=first(pairs, "Direction"),
            )
        case "DTMFEnd":
            return DTMFEnd(
                name=name,
                headers=pairs,
                channel=channel,
                digit=first(pairs, "Digit"),
                duration_ms=_int(first(pairs, "DurationMs")),
                direction=first(pairs, "Direction"),
            )
        case "Hangup":
            return Hangup(
                name=name,
                headers=pairs,
                channel=channel,
                cause=_int(first(pairs, "Cause")),
                cause_txt=first(pairs, "Cause-txt"),
            )
        case "CoreShowChannel":
            return ChannelListing(
                name=name,
                headers=pairs,
                channel=channel,
                application=first(pairs, "Application"),
                application_data=first(pairs, "ApplicationData"),
                bridge_id=first(pairs, "BridgeId"),
                duration=first(pairs, "Duration"),
            )
    return GenericEvent(name=name, headers=pairs)


@dataclass(frozen=True, kw_only=True)
class ConnectionUp(AmiEvent):
    """Our own event: logged in and the channel table was rebuilt."""

    reconnect: bool


@dataclass(frozen=True, kw_only=True)
class ConnectionLost(AmiEvent):
    """Our own event: the AMI link is down; actions fail with AmiNotConnected."""

    reason: str
