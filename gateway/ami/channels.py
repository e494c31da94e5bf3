"""The live channel table: what Asterisk has up right now, fed by typed events.

Pure and synchronous. After a reconnect the AMI client rebuilds it from a
CoreShowChannels snapshot; events that arrive while the snapshot is being taken win
over it (a channel hung up meanwhile is not brought back, a new one is not dropped).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from gateway.ami.events import (
    AmiEvent,
    ChannelEvent,
    ChannelListing,
    ChannelSnapshot,
    Hangup,
    Newchannel,
    Newexten,
    VarSet,
)

UUID_VARIABLE = "GW_UUID"


@dataclass
class Channel:
    """One live channel; ``variables`` holds the tracked ones (GW_* by default)."""

    name: str
    uniqueid: str
    linkedid: str = ""
    caller_id_num: str = ""
    caller_id_name: str = ""
    context: str = ""
    exten: str = ""
    priority: int = 0
    state: int = 0
    state_desc: str = ""
    application: str = ""
    app_data: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def uuid(self) -> str | None:
        """The AudioSocket uuid the dialplan gave this call (GW_UUID), if any."""
        return self.variables.get(UUID_VARIABLE) or None

    def update_from(self, snap: ChannelSnapshot) -> None:
        self.name = snap.channel
        self.linkedid = snap.linkedid or self.linkedid
        self.caller_id_num = snap.caller_id_num
        self.caller_id_name = snap.caller_id_name
        self.context = snap.context
        self.exten = snap.exten
        self.priority = snap.priority
        self.state = snap.state
        self.state_desc = snap.state_desc


def _new_channel(snap: ChannelSnapshot) -> Channel:
    channel = Channel(name=snap.channel, uniqueid=snap.uniqueid)
    channel.update_from(snap)
    return channel


def normalise_uuid(value: object) -> str:
    return str(value).strip().lower()


class ChannelTable:
    """Channels by uniqueid, with look-ups by name and by GW_UUID."""

    def __init__(self, tracked_prefixes: tuple[str, ...] = ("GW_",)) -> None:
        self._by_uniqueid: dict[str, Channel] = {}
        self._tracked = tracked_prefixes
        self._resync: _Resync | None = None

    def __len__(self) -> int:
        return len(self._by_uniqueid)

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self._by_uniqueid.values()))

    def get(self, uniqueid: str) -> Channel | None:
        return self._by_uniqueid.get(uniqueid)

    def by_name(self, name: str) -> Channel | None:
        return next((c for c in self._by_uniqueid.values() if c.name == name), None)

    def by_uuid(self, uuid: object) -> Channel | None:
        wanted = normalise_uuid(uuid)
        return next(
            (c for c in self._by_uniqueid.values() if normalise_uuid(c.uuid) == wanted), None
        )

    def is_tracked(self, variable: str) -> bool:
        return variable.startswith(self._tracked)

    def apply(self, event: AmiEvent) -> Channel | None:
        """Update the table from one event; returns the channel it touched."""
        if not isinstance(event, ChannelEvent) or not event.channel.uniqueid:
            return None
        snap = event.channel
        if isinstance(event, Hangup):
            if self._resync is not None:
                self._resync.gone.add(snap.uniqueid)
            return self._by_uniqueid.pop(snap.uniqueid, None)
        channel = self._by_uniqueid.get(snap.uniqueid)
        if channel is None:
            if self._resync is not None and snap.uniqueid in self._resync.gone:
                return None
            channel = self._by_uniqueid[snap.uniqueid] = _new_channel(snap)
            if self._resync is not None and isinstance(event, Newchannel):
                self._resync.born.add(snap.uniqueid)
        else:
            channel.update_from(snap)
        if isinstance(event, Newexten):
            channel.application, channel.app_data = event.application, event.app_data
        elif isinstance(event, VarSet) and self.is_tracked(event.variable):
            channel.variables[event.variable] = event.value
        return channel

    def begin_resync(self) -> None:
        """Start remembering births and deaths until :meth:`apply_snapshot`."""
        self._resync = _Resync()

    def apply_snapshot(self, listing: list[ChannelListing]) -> list[Channel]:
        """Replace the table by a CoreShowChannels listing; returns channels that vanished."""
        resync, self._resync = self._resync or _Resync(), None
        seen: set[str] = set()
        for item in listing:
            snap = item.channel
            if snap.uniqueid in resync.gone:
                continue
            seen.add(snap.uniqueid)
            channel = self._by_uniqueid.get(snap.uniqueid)
            if channel is None:
                channel = self._by_uniqueid[snap.uniqueid] = _new_channel(snap)
            else:
                channel.update_from(snap)
            channel.application, channel.app_data = item.application, item.application_data
        vanished = [
            c for uid, c in self._by_uniqueid.items() if uid not in seen and uid not in resync.born
        ]
        for channel in vanished:
            del self._by_uniqueid[channel.uniqueid]
        return vanished

    def set_variable(self, uniqueid: str, variable: str, value: str) -> None:
        channel = self._by_uniqueid.get(uniqueid)
        if channel is not None and value:
            channel.variables[variable] = value


@dataclass
class _Resync:
    gone: set[str] = field(default_factory=set)
    born: set[str] = field(default_factory=set)
