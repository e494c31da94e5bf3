"""Trunk health and occupancy, fed by AMI; read by the routing policy.

Health comes from Asterisk's qualify (OPTIONS) of each trunk's contact: read once when
the AMI session opens (start and every reconnect), then kept current by ContactStatus
events. A trunk Asterisk has not judged yet is *unknown*, and unknown is not good
enough for a diversion: a caller must never hear "transferring you to 12345" for a line
Asterisk already knew was dead.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from gateway.logs import get_logger
from gateway.routing import TrunkState

_log = get_logger("gateway.trunks")

# PJSIP_CONTACT(<id>,status): Reachable | Unreachable | NonQualified | Unknown | Created
CONTACT_STATUS: dict[str, bool] = {"Reachable": True, "Unreachable": False}


class VariableReader(Protocol):
    async def getvar(self, channel: str | None, variable: str) -> str: ...


async def read_health(ami: VariableReader, endpoint: str) -> bool | None:
    """One trunk's health as Asterisk sees it now: True, False, or None (not judged).

    Read with dialplan functions (func_pjsip_aor, func_pjsip_contact) through Getvar,
    which the least-privilege AMI user may run (PJSIPShowContacts needs "system")."""
    contacts = await ami.getvar(None, f"PJSIP_AOR({endpoint},contact)")
    statuses = [
        CONTACT_STATUS.get(await ami.getvar(None, f"PJSIP_CONTACT({contact},status)"))
        for contact in contacts.split(",")
        if contact
    ]
    if any(status is True for status in statuses):
        return True
    if statuses and all(status is False for status in statuses):
        return False
    return None


class TrunkBoard:
    """Reachability per PJSIP endpoint and calls we placed on each trunk.

    Counting our own calls (increment on hand-off, decrement when that channel hangs
    up) is enough for capacity: the gateway is the only thing that puts diverted calls
    on these trunks.
    """

    def __init__(self, endpoint_to_trunk: dict[str, str]) -> None:
        self.endpoints = endpoint_to_trunk
        self._reachable: dict[str, bool | None] = {}
        self._calls: dict[str, set[str]] = {}

    def set_reachable(self, endpoint: str, reachable: bool | None) -> str | None:
        """Record an endpoint's health (None: unknown); returns its trunk (None if not ours)."""
        trunk = self.endpoints.get(endpoint, endpoint if endpoint in self._known() else None)
        if trunk is not None:
            self._reachable[trunk] = reachable
        return trunk

    def _known(self) -> set[str]:
        return set(self.endpoints.values())

    def forget_health(self) -> None:
        """AMI is gone: nothing Asterisk said about health is current any more."""
        self._reachable.clear()

    async def refresh(self, ami: VariableReader, timeout: float) -> dict[str, bool | None]:
        """Ask Asterisk for every trunk's health now (after an AMI session opens)."""

        async def one(endpoint: str) -> bool | None:
            try:
                async with asyncio.timeout(timeout):
                    return await read_health(ami, endpoint)
            except Exception as exc:  # unknown is the safe answer: no diversion there
                _log.warning("trunk health not read", endpoint=endpoint, error=str(exc))
                return None

        endpoints = sorted(self.endpoints)
        health = await asyncio.gather(*(one(e) for e in endpoints))
        for endpoint, reachable in zip(endpoints, health, strict=True):
            self.set_reachable(endpoint, reachable)
        return dict(zip(endpoints, health, strict=True))

    def health(self) -> dict[str, bool | None]:
        return {trunk: self._reachable.get(trunk) for trunk in self._known()}

    def call_placed(self, trunk: str, channel: str) -> None:
        self._calls.setdefault(trunk, set()).add(channel)

    def call_ended(self, channel: str) -> None:
        for channels in self._calls.values():
            channels.discard(channel)

    def keep_only(self, live_channels: set[str]) -> None:
        """Forget calls whose channel is gone (their Hangup was missed during an outage)."""
        for channels in self._calls.values():
            channels.intersection_update(live_channels)

    def snapshot(self) -> dict[str, TrunkState]:
        names = set(self._reachable) | set(self._calls)
        return {
            name: TrunkState(
                reachable=self._reachable.get(name),
                active_calls=len(self._calls.get(name, ())),
            )
            for name in names
        }
