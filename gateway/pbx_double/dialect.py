"""Asterisk 22.10.1's AMI dialect, as captured in tests/fixtures/asterisk.

Builders return ordered (key, value) pairs; field order, wording and ``Privilege``
values are copied from the captures. Encoding (CRLF, blank line) is
:func:`gateway.ami.protocol.encode_message`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gateway.ami.protocol import Pairs

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
CORE_VERSION = (
    "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-29 20:16:45 UTC"
)
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
UNKNOWN = "<unknown>"

# Texts Asterisk answers with (scenarios 01-06, 12).
AUTH_ACCEPTED = "Authentication accepted"
AUTH_FAILED = "Authentication failed"
PERMISSION_DENIED = "Permission denied"
NO_SUCH_CHANNEL = "No such channel"
CHANNEL_NOT_SPECIFIED = "Channel not specified"
CHANNEL_NOT_FOUND = "Channel not found"
GOODBYE = "Thanks for all the fish."


def unknown_command(action: str) -> str:
    return (
        f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
    )


def channel_does_not_exist(name: str) -> str:
    return f"Channel does not exist: {name}"


@dataclass
class SimChannel:
    """A channel as the double shows it in AMI."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    caller_id_num: str = UNKNOWN
    caller_id_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    application: str = ""
    app_data: str = ""
    bridge_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    created: float = field(default_factory=time.monotonic)

    def headers(self, prefix: str = "") -> Pairs:
        """The channel block every channel event carries (optionally ``Dest``-prefixed)."""
        return [
            (prefix + "Channel", self.name),
            (prefix + "ChannelState", str(self.state)),
            (prefix + "ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (prefix + "CallerIDNum", self.caller_id_num or UNKNOWN),
            (prefix + "CallerIDName", self.caller_id_name or UNKNOWN),
            (prefix + "ConnectedLineNum", self.connected_num or UNKNOWN),
            (prefix + "ConnectedLineName", self.connected_name or UNKNOWN),
            (prefix + "Language", "en"),
            (prefix + "AccountCode", ""),
            (prefix + "Context", self.context),
            (prefix + "Exten", self.exten),
            (prefix + "Priority", str(self.priority)),
            (prefix + "Uniqueid", self.uniqueid),
            (prefix + "Linkedid", self.linkedid),
        ]

    def duration(self) -> str:
        seconds = int(time.monotonic() - self.created)
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def response(status: str, action_id: str | None, *rest: tuple[str, str]) -> Pairs:
    pairs: Pairs = [("Response", status)]
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    pairs.extend(rest)
    return pairs


def success(action_id: str | None, message: str) -> Pairs:
    return response("Success", action_id, ("Message", message))


def error(action_id: str | None, message: str) -> Pairs:
    return response("Error", action_id, ("Message", message))


_PRIVILEGE = {
    "Newchannel": "call,all",
    "Newstate": "call,all",
    "NewCallerid": "call,all",
    "Hangup": "call,all",
    "HangupRequest": "call,all",
    "SoftHangupRequest": "call,all",
    "DialBegin": "call,all",
    "DialEnd": "call,all",
    "BridgeCreate": "call,all",
    "BridgeEnter": "call,all",
    "BridgeLeave": "call,all",
    "BridgeDestroy": "call,all",
    "OriginateResponse": "call,all",
    "Newexten": "dialplan,all",
    "VarSet": "dialplan,all",
    "UserEvent": "user,all",
    "DTMFBegin": "dtmf,all",
    "DTMFEnd": "dtmf,all",
    "FullyBooted": "system,all",
    "ContactStatus": "system,all",
    "SuccessfulAuth": "security,all",
}


def event(name: str, *blocks: Pairs) -> Pairs:
    pairs: Pairs = [("Event", name), ("Privilege", _PRIVILEGE.get(name, "call,all"))]
    for block in blocks:
        pairs.extend(block)
    return pairs


def channel_event(name: str, channel: SimChannel, *extra: tuple[str, str]) -> Pairs:
    return event(name, channel.headers(), list(extra))


def newexten(channel: SimChannel, application: str, app_data: str) -> Pairs:
    return channel_event(
        "Newexten",
        channel,
        ("Extension", channel.exten),
        ("Application", application),
        ("AppData", app_data),
    )


def varset(channel: SimChannel, variable: str, value: str) -> Pairs:
    return channel_event("VarSet", channel, ("Variable", variable), ("Value", value))


def fully_booted(uptime: int) -> Pairs:
    return event(
        "FullyBooted",
        [("Uptime", str(uptime)), ("LastReload", str(uptime)), ("Status", "Fully Booted")],
    )


def successful_auth(username: str, session_id: str, local: str, remote: str) -> Pairs:
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    millis = f"{int(time.time() * 1000) % 1000:03d}"
    tv = f"{now}.{millis}+0000"
    return event(
        "SuccessfulAuth",
        [
            ("EventTV", tv),
            ("Severity", "Informational"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("AccountID", username),
            ("SessionID", session_id),
            ("LocalAddress", f"IPV4/TCP/{local}"),
            ("RemoteAddress", f"IPV4/TCP/{remote}"),
            ("UsingPassword", "0"),
            ("SessionTV", tv),
        ],
    )


def bridge_block(bridge_id: str, members: int) -> Pairs:
    return [
        ("BridgeUniqueid", bridge_id),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", UNKNOWN),
        ("BridgeName", UNKNOWN),
        ("BridgeNumChannels", str(members)),
        ("BridgeVideoSourceMode", "none"),
    ]


def contact_status(endpoint: str, reachable: bool) -> Pairs:
    """PJSIP qualify result (Asterisk 22 ContactStatus; not in the captures)."""
    return event(
        "ContactStatus",
        [
            ("URI", f"sip:{endpoint}@192.0.2.10:5060"),
            ("ContactStatus", "Reachable" if reachable else "Unreachable"),
            ("AOR", endpoint),
            ("EndpointName", endpoint),
            ("RoundtripUsec", "1830" if reachable else "0"),
        ],
    )


def originate_response(
    action_id: str | None,
    ok: bool,
    channel: str,
    context: str,
    exten: str,
    reason: int,
    uniqueid: str = UNKNOWN,
    caller_num: str = UNKNOWN,
    caller_name: str = UNKNOWN,
) -> Pairs:
    block: Pairs = [("ActionID", action_id)] if action_id is not None else []
    block += [
        ("Response", "Success" if ok else "Failure"),
        ("Channel", channel),
        ("Context", context),
        ("Exten", exten),
        ("Reason", str(reason)),
        ("Uniqueid", uniqueid),
        ("CallerIDNum", caller_num),
        ("CallerIDName", caller_name),
    ]
    return event("OriginateResponse", block)
