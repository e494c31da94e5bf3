"""Trunk health and occupancy, fed by AMI events; read by the routing policy."""

from __future__ import annotations

from gateway.routing import TrunkState


class TrunkBoard:
    """Reachability per PJSIP endpoint and calls we placed on each trunk.

    Counting our own calls (increment on hand-off, decrement when that channel hangs
    up) is enough for capacity: the gateway is the only thing that puts diverted calls
    on these trunks.
    """

    def __init__(self, endpoint_to_trunk: dict[str, str]) -> None:
        self.endpoints = endpoint_to_trunk
        self._reachable: dict[str, bool] = {}
        self._calls: dict[str, set[str]] = {}

    def set_reachable(self, endpoint: str, reachable: bool) -> str | None:
        """Record an endpoint's health; returns the trunk it belongs to (None if unknown)."""
        trunk = self.endpoints.get(endpoint, endpoint if endpoint in self._known() else None)
        if trunk is not None:
            self._reachable[trunk] = reachable
        return trunk

    def _known(self) -> set[str]:
        return set(self.endpoints.values())

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
                reachable=self._reachable.get(name, True),
                active_calls=len(self._calls.get(name, ())),
            )
            for name in names
        }
