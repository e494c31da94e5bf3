"""The AMI edge: panoramisk 1.4 wrapped once (see client.py for what it fixes)."""

from gateway.ami.channels import Channel, ChannelTable
from gateway.ami.client import AmiClient, EventStream, OriginateResult
from gateway.ami.errors import AmiError, AmiFailure, AmiLoginFailed, AmiNotConnected, AmiTimeout
from gateway.ami.events import (
    AmiEvent,
    BridgeEnter,
    BridgeLeave,
    ChannelEvent,
    ChannelListing,
    ChannelSnapshot,
    ConnectionLost,
    ConnectionUp,
    DialBegin,
    DialEnd,
    DTMFBegin,
    DTMFEnd,
    GenericEvent,
    GlobalVarSet,
    Hangup,
    Newchannel,
    Newexten,
    Newstate,
    OriginateReason,
    OriginateResponse,
    TrunkStatus,
    UserEvent,
    VarSet,
    parse_event,
)

__all__ = [
    "AmiClient", "AmiError", "AmiEvent", "AmiFailure", "AmiLoginFailed", "AmiNotConnected",
    "AmiTimeout", "BridgeEnter", "BridgeLeave", "Channel", "ChannelEvent", "ChannelListing",
    "ChannelSnapshot", "ChannelTable", "ConnectionLost", "ConnectionUp", "DTMFBegin", "DTMFEnd",
    "DialBegin", "DialEnd", "EventStream", "GenericEvent", "GlobalVarSet", "Hangup",
    "Newchannel", "Newexten", "Newstate", "OriginateReason", "OriginateResponse",
    "OriginateResult", "TrunkStatus", "UserEvent", "VarSet", "parse_event",
]
