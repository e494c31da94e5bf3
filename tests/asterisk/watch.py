"""The test's own AMI session on the real Asterisk: every event, timestamped, awaitable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.ami import AmiClient
from gateway.ami import events as ami
from gateway.retry import bounded
from gateway.settings import AmiSettings


@dataclass(frozen=True)
class Seen:
    at: float  # time.monotonic() on arrival
    event: ami.AmiEvent


class AmiWatch:
    def __init__(self, port: int, username: str, secret: str) -> None:
        settings = AmiSettings(host="127.0.0.1", port=port, username=username)
        self.client = AmiClient(settings, secret=secret)
        self.seen: list[Seen] = []
        self._changed = asyncio.Event()
        self._from = 0  # events before this index belong to earlier tests

    async def start(self) -> AmiWatch:
        self.client.subscribe(self._on_event)
        await self.client.start()
        await self.client.wait_ready(timeout=10)
        return self

    async def _on_event(self, event: ami.AmiEvent) -> None:
        self.seen.append(Seen(time.monotonic(), event))
        self._changed.set()

    def new_test(self) -> None:
        self._from = len(self.seen)

    def events(self) -> list[Seen]:
        return self.seen[self._from :]

    def find(self, match: Callable[[ami.AmiEvent], bool]) -> Seen | None:
        return next((s for s in self.events() if match(s.event)), None)

    async def wait_for(
        self, match: Callable[[ami.AmiEvent], bool], timeout: float, what: str
    ) -> Seen:
        async def arrive() -> Seen:
            while (found := self.find(match)) is None:
                self._changed.clear()
                await self._changed.wait()
            return found

        return await bounded(arrive(), timeout, what)

    # -- the call's story, by the caller's number --------------------------------------

    def channel_of(self, caller: str) -> str | None:
        """The caller's inbound channel (the first channel with that caller id)."""
        for seen in self.events():
            event = seen.event
            if isinstance(event, ami.Newchannel) and event.channel.caller_id_num == caller:
                return event.channel.channel
        return None

    async def wait_channel(self, caller: str, timeout: float = 10.0) -> str:
        await self.wait_for(
            lambda e: isinstance(e, ami.Newchannel) and e.channel.caller_id_num == caller,
            timeout,
            f"a channel for caller {caller}",
        )
        channel = self.channel_of(caller)
        assert channel is not None
        return channel

    async def wait_route(
        self, channel: str, route: str | None = None, timeout: float = 20.0
    ) -> Seen:
        """The dialplan's GatewayRoute UserEvent for ``channel`` (gw-route-enter)."""

        def routed(e: ami.AmiEvent) -> bool:
            return (
                isinstance(e, ami.UserEvent)
                and e.user_event == "GatewayRoute"
                and e.channel is not None
                and e.channel.channel == channel
                and (route is None or e.fields.get("Route") == route)
            )

        return await self.wait_for(routed, timeout, f"{channel} to enter route-{route or '*'}")

    def routes(self, channel: str) -> list[dict[str, str]]:
        return [
            s.event.fields
            for s in self.events()
            if isinstance(s.event, ami.UserEvent)
            and s.event.user_event == "GatewayRoute"
            and s.event.channel is not None
            and s.event.channel.channel == channel
        ]

    def variable(self, channel: str, name: str) -> str | None:
        """The last value the channel's ``name`` was set to (VarSet events)."""
        value = None
        for seen in self.events():
            event = seen.event
            if (
                isinstance(event, ami.VarSet)
                and event.channel.channel == channel
                and event.variable == name
            ):
                value = event.value
        return value

    async def close(self) -> None:
        await self.client.close()
