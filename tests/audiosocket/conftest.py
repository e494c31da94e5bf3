"""Real AudioSocket servers on free loopback ports, stopped after each test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gateway.audiosocket import AudioSocketCall, AudioSocketServer, Incoming
from gateway.audiosocket.protocol import HANGUP_FRAME, Frame, FrameDecoder
from gateway.settings import AudioSocketSettings

StartServer = Callable[..., Awaitable[tuple[AudioSocketServer, int]]]


class Recorder:
    """A handler that keeps each call and everything it received, and waits for its end."""

    def __init__(self) -> None:
        self.calls: asyncio.Queue[AudioSocketCall] = asyncio.Queue()
        self.items: dict[str, list[Incoming]] = {}
        self.item_arrived = asyncio.Event()

    async def __call__(self, call: AudioSocketCall) -> None:
        await self.calls.put(call)
        received = self.items.setdefault(call.uuid, [])
        async for item in call.incoming():
            received.append(item)
            self.item_arrived.set()

    async def next_call(self) -> AudioSocketCall:
        return await asyncio.wait_for(self.calls.get(), 5)

    async def wait_items(self, call_id: str, count: int) -> list[Incoming]:
        while len(self.items.get(call_id, [])) < count:
            self.item_arrived.clear()
            await asyncio.wait_for(self.item_arrived.wait(), 5)
        return self.items[call_id]


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    servers: list[AudioSocketServer] = []

    async def start(handler: Any, **overrides: Any) -> tuple[AudioSocketServer, int]:
        settings = AudioSocketSettings(host="127.0.0.1", port=0, **overrides)
        server = AudioSocketServer(settings, handler)
        _, port = await server.start()
        servers.append(server)
        return server, port

    yield start
    for server in servers:
        await server.stop()


async def read_until_eof(reader: asyncio.StreamReader) -> list[Frame]:
    """Every frame the server sent on a raw connection, up to its close."""
    data = await asyncio.wait_for(reader.read(), 5)
    return FrameDecoder(0xFFFF).feed(data)


def ends_with_hangup(frames: list[Frame]) -> bool:
    return bool(frames) and frames[-1].kind == HANGUP_FRAME[0] and not frames[-1].payload
