"""A started PBX double, and a minimal AudioSocket peer standing in for the gateway."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from gateway.pbx_double import PbxDouble

CITIES = {
    "0791110": ("nanchang", "PJSIP/110@nanchang-110"),
    "0792110": ("jiujiang", "PJSIP/110@jiujiang-110"),
}


@dataclass
class PeerConnection:
    """One AudioSocket connection the peer accepted."""

    uuid: uuid.UUID
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    received: bytearray = field(default_factory=bytearray)
    dtmf: list[str] = field(default_factory=list)
    eof: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_received(self, nbytes: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < nbytes:
                self.arrived.clear()
                await self.arrived.wait()

    async def wait_dtmf(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.dtmf) < count:
                self.arrived.clear()
                await self.arrived.wait()

    async def pump(self) -> None:
        buffer = bytearray()
        try:
            while data := await self.reader.read(65536):
                buffer += data
                while len(buffer) >= 3:
                    length = int.from_bytes(buffer[1:3], "big")
                    if len(buffer) < 3 + length:
                        break
                    kind, payload = buffer[0], bytes(buffer[3 : 3 + length])
                    del buffer[: 3 + length]
                    if kind == 0x10:
                        self.received += payload
                    elif kind == 0x03:
                        self.dtmf.append(payload.decode())
                    self.arrived.set()
        except ConnectionError:
            pass
        finally:
            self.eof.set()
            self.arrived.set()

    def send_hangup_frame(self) -> None:
        self.writer.write(b"\x00\x00\x00")


class AudioSocketPeer:
    def __init__(self) -> None:
        self.connections: asyncio.Queue[PeerConnection] = asyncio.Queue()
        self.port = 0
        self._server: asyncio.Server | None = None
        self.accepted: list[PeerConnection] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = await reader.readexactly(3)
        assert header[0] == 0x01 and header[1:] == b"\x00\x10"
        connection = PeerConnection(uuid.UUID(bytes=await reader.readexactly(16)), reader, writer)
        self.accepted.append(connection)
        await self.connections.put(connection)
        await connection.pump()

    async def next_connection(self, timeout: float = 5.0) -> PeerConnection:
        async with asyncio.timeout(timeout):
            return await self.connections.get()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in self.accepted:
            connection.writer.close()
            await connection.eof.wait()
        if self._server is not None:
            await self._server.wait_closed()


@pytest.fixture
async def peer() -> AsyncIterator[AudioSocketPeer]:
    audiosocket = AudioSocketPeer()
    await audiosocket.start()
    yield audiosocket
    await audiosocket.stop()


@pytest.fixture
async def double(peer: AudioSocketPeer) -> AsyncIterator[PbxDouble]:
    pbx = PbxDouble(
        audiosocket=("127.0.0.1", peer.port),
        users={"gateway": "gateway-secret"},
        cities=CITIES,
        globals_={"AUDIOSOCKET_SERVICE": "127.0.0.1:9092"},
        auth_failure_delay=0.05,
        ring_time=0.01,
        noanswer_after=0.05,
        retry_110_after=0.05,
    )
    await pbx.start()
    yield pbx
    await pbx.stop()
