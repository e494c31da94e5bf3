"""The PBX double's AudioSocket leg behaves like Asterisk's AudioSocket() (scenarios 05-11)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gateway.audiosocket.protocol import (
    HANGUP_FRAME,
    Frame,
    FrameDecoder,
    Kind,
    encode,
    encode_audio,
)
from gateway.pbx_double.audiosocket_leg import AudioSocketLeg

CALL_ID = uuid.UUID("d1db69a1-b6df-46f3-b9a1-172f8fd9d3c7")


class RawServer:
    """A bare TCP server standing in for the gateway; the test scripts what it sends."""

    def __init__(self, script: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> None:
        self.script = script
        self.received = bytearray()
        self.peer_closed = asyncio.Event()
        self.connected = asyncio.Event()
        self.data_arrived = asyncio.Event()

    async def wait_bytes(self, nbytes: int) -> None:
        while len(self.received) < nbytes:
            self.data_arrived.clear()
            await asyncio.wait_for(self.data_arrived.wait(), 5)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connected.set()
        script = asyncio.create_task(self.script(writer))
        try:
            while data := await reader.read(65536):
                self.received += data
                self.data_arrived.set()
        except ConnectionError:
            pass
        self.peer_closed.set()
        script.cancel()
        writer.close()

    def frames(self) -> list[Frame]:
        return FrameDecoder(0xFFFF).feed(bytes(self.received))


async def say_nothing(writer: asyncio.StreamWriter) -> None:
    await asyncio.Event().wait()


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[..., Awaitable[tuple[RawServer, int]]]]:
    servers: list[asyncio.Server] = []

    async def start(
        script: Callable[[asyncio.StreamWriter], Awaitable[None]] = say_nothing,
    ) -> tuple[RawServer, int]:
        raw = RawServer(script)
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        servers.append(server)
        return raw, server.sockets[0].getsockname()[1]

    yield start
    for server in servers:
        server.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_raises_like_a_failed_audiosocket_app():
    with pytest.raises(ConnectionRefusedError):
        await AudioSocketLeg.connect("127.0.0.1", free_port(), CALL_ID)


async def test_first_frame_is_the_uuid_in_binary_then_audio_and_dtmf(raw_server):
    raw, port = await raw_server()
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    await leg.send_audio(bytes(480))
    await leg.send_dtmf("#")
    await leg.close()
    await raw.peer_closed.wait()
    assert raw.frames() == [
        Frame(Kind.UUID, CALL_ID.bytes),
        Frame(Kind.AUDIO, bytes(480)),
        Frame(Kind.DTMF, b"#"),
    ]


async def test_close_is_like_a_redirect_no_hangup_frame(raw_server):
    raw, port = await raw_server()
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    await leg.close()
    await raw.peer_closed.wait()
    assert HANGUP_FRAME not in bytes(raw.received)
    assert await leg.wait_closed() == "closed"


async def test_server_hangup_frame_closes_the_socket(raw_server):
    async def hang_up(writer: asyncio.StreamWriter) -> None:
        writer.write(encode_audio(bytes(320)) + HANGUP_FRAME)

    raw, port = await raw_server(hang_up)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    assert await leg.wait_closed() == "hangup-frame"
    assert leg.received_audio == bytes(320)
    await raw.peer_closed.wait()


@pytest.mark.parametrize(
    "frame", [encode(Kind.DTMF, b"5"), encode(Kind.UUID, bytes(16)), b"\x42\x00\x00"]
)
async def test_server_frame_other_than_audio_or_hangup_tears_the_call_down(raw_server, frame):
    async def send_bad(writer: asyncio.StreamWriter) -> None:
        writer.write(frame)

    raw, port = await raw_server(send_bad)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    assert await leg.wait_closed() == "bad-frame"
    assert leg.bad_frame_kind == frame[0]
    await raw.peer_closed.wait()


async def test_two_seconds_without_a_frame_either_way_ends_the_leg(raw_server):
    raw, port = await raw_server()
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID, inactivity_timeout=0.2)
    assert await leg.wait_closed() == "inactivity"
    await raw.peer_closed.wait()


async def test_server_closing_the_socket_is_eof(raw_server):
    async def close_now(writer: asyncio.StreamWriter) -> None:
        writer.close()

    _, port = await raw_server(close_now)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    assert await leg.wait_closed() == "eof"


async def test_stream_pcm_sends_frames_of_the_given_size_with_a_short_last_one(raw_server):
    raw, port = await raw_server()
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID, inactivity_timeout=5)
    pcm = bytes(range(256)) * 4  # 1024 bytes
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await leg.stream_pcm(pcm, frame_bytes=480, pace=0.03) is True
    assert loop.time() - started >= 2 * 0.03 - 0.005
    await leg.close()
    await raw.peer_closed.wait()
    audio = [f.payload for f in raw.frames() if f.kind == Kind.AUDIO]
    assert [len(p) for p in audio] == [480, 480, 64]
    assert b"".join(audio) == pcm


async def test_silence_keeps_the_leg_alive_and_pauses_while_streaming(raw_server):
    raw, port = await raw_server()
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID, inactivity_timeout=0.2)
    leg.start_silence(pace=0.02)
    voice = b"\x01\x02" * 800  # five frames that are not silence
    assert await leg.stream_pcm(voice, pace=0.02) is True
    # 0.3 s of silence after the voice: beyond the leg's own 0.2 s inactivity limit
    await raw.wait_bytes(len(raw.received) + 15 * 323)
    assert not leg.is_closed
    await leg.close()
    await raw.peer_closed.wait()
    audio = [f.payload for f in raw.frames() if f.kind == Kind.AUDIO]
    voice_at = [i for i, p in enumerate(audio) if p == voice[:320]]
    assert len(voice_at) == 5
    assert voice_at == list(range(voice_at[0], voice_at[0] + 5))  # no silence in between


async def test_sending_on_a_closed_leg_raises(raw_server):
    _, port = await raw_server()
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    await leg.close()
    with pytest.raises(ConnectionError):
        await leg.send_audio(bytes(320))
