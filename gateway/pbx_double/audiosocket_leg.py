"""The Asterisk side of one AudioSocket connection, for the PBX double and tests.

Behaves like ``AudioSocket(<uuid>,<host:port>)`` in a real Asterisk 22.10.1
(tests/fixtures/asterisk 05-11, 15):

- connects (a refused connection raises ``ConnectionRefusedError``, scenario 11) and sends
  the 0x01 frame with the uuid's 16 binary bytes first;
- sends caller audio (0x10, any frame size, real-time pace) and DTMF (0x03, one byte);
- accepts 0x10 audio from the server into ``received_audio`` (0x11-0x18 are other slin
  rates: accepted, not stored);
- server sends 0x00 → closes the socket, AudioSocket() returns normally: "hangup-frame"
  (scenario 07);
- server sends 0x03, 0x01, 0xff or an unknown kind → the app fails and the channel is torn
  down with a TCP reset: "bad-frame" (scenario 08);
- 2 s without a frame in either direction → the app fails: "inactivity" (scenario 09);
- the server closes TCP → "eof"; ``close()`` is what Redirect / AMI Hangup / caller BYE do:
  close TCP with no 0x00 frame → "closed".

How the dialplan continues, for the double: "hangup-frame" → TRYSTATUS=SUCCESS, every
other reason except "closed" → TRYSTATUS=FAILED; with the shipped TryExec guard both go
on to the gateway-failsafe priority (route-110).
"""

from __future__ import annotations

import asyncio
import uuid as uuid_module
from typing import Any

from gateway.audiosocket.protocol import (
    HEADER,
    FrameDecoder,
    Kind,
    ProtocolError,
    encode_audio,
    encode_dtmf,
    encode_uuid,
)

REASON_HANGUP_FRAME = "hangup-frame"
REASON_EOF = "eof"
REASON_INACTIVITY = "inactivity"
REASON_BAD_FRAME = "bad-frame"
REASON_CLOSED = "closed"

# Kinds Asterisk accepts from the server (res_audiosocket): hang-up and slin audio.
_SERVER_AUDIO_KINDS = frozenset(range(0x10, 0x19))
_ALL_KINDS = frozenset(range(256))


class AudioSocketLeg:
    """One AudioSocket connection as Asterisk makes it. Build with :meth:`connect`."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        call_id: uuid_module.UUID,
        inactivity_timeout: float,
    ) -> None:
        self.uuid = call_id
        self.inactivity_timeout = inactivity_timeout
        self.received_audio = bytearray()
        self.audio_frames_received = 0
        self.frames_sent = 0
        self.close_reason: str | None = None
        self.bad_frame_kind: int | None = None
        self._reader = reader
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._last_activity = self._loop.time()
        self._closed: asyncio.Future[str] = self._loop.create_future()
        self._audio_arrived = asyncio.Event()
        self._streaming = 0
        self._silence_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        uuid: uuid_module.UUID,
        *,
        inactivity_timeout: float = 2.0,
    ) -> AudioSocketLeg:
        """Open the connection and send the uuid frame (raises ConnectionRefusedError)."""
        reader, writer = await asyncio.open_connection(host, port)
        leg = cls(reader, writer, uuid, inactivity_timeout)
        leg._write(encode_uuid(uuid))
        leg._tasks = [
            asyncio.create_task(leg._read_loop(), name=f"as-leg-read-{uuid}"),
            asyncio.create_task(leg._watch_inactivity(), name=f"as-leg-watch-{uuid}"),
        ]
        return leg

    # ---------------------------------------------------------------- sending

    @property
    def is_closed(self) -> bool:
        return self._closed.done()

    async def send_audio(self, pcm: bytes) -> None:
        """One 0x10 frame with ``pcm`` as its payload (any size up to 65535 bytes)."""
        self._check_open()
        self._write(encode_audio(pcm))
        await self._writer.drain()

    async def send_dtmf(self, digit: str) -> None:
        """One 0x03 frame, as Asterisk sends at the end of a caller's digit."""
        self._check_open()
        self._write(encode_dtmf(digit))
        await self._writer.drain()

    async def stream_pcm(self, pcm: bytes, frame_bytes: int = 320, pace: float = 0.02) -> bool:
        """Send ``pcm`` as frames of ``frame_bytes`` (the last one short, like Asterisk) on a
        monotonic schedule of one frame per ``pace`` s (0 = as fast as possible). Silence
        from start_silence() pauses meanwhile. True if all of it was sent."""
        self._streaming += 1
        try:
            start = self._loop.time()
            for index, offset in enumerate(range(0, len(pcm), frame_bytes)):
                if pace > 0:
                    delay = start + index * pace - self._loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if self.is_closed:
                    return False
                self._write(encode_audio(pcm[offset : offset + frame_bytes]))
                await self._writer.drain()
            return not self.is_closed
        except ConnectionError:
            return False
        finally:
            self._streaming -= 1

    def start_silence(self, frame_bytes: int = 320, pace: float = 0.02) -> None:
        """Keep sending silence frames whenever nothing is streamed (transmit_silence=yes)."""
        if self._silence_task is None or self._silence_task.done():
            self._silence_task = asyncio.create_task(self._silence(frame_bytes, pace))

    def stop_silence(self) -> None:
        if self._silence_task is not None:
            self._silence_task.cancel()
            self._silence_task = None

    async def close(self) -> None:
        """Close TCP with no 0x00, as Asterisk does on Redirect / AMI Hangup / caller BYE."""
        self._end(REASON_CLOSED)
        await self._stop_tasks()

    # ---------------------------------------------------------------- waiting

    async def wait_closed(self) -> str:
        """The reason the connection ended (see the module docstring)."""
        reason = await asyncio.shield(self._closed)
        await self._stop_tasks()
        return reason

    async def wait_audio(self, nbytes: int) -> None:
        """Until at least ``nbytes`` of server audio arrived (or the leg closed)."""
        while len(self.received_audio) < nbytes and not self.is_closed:
            self._audio_arrived.clear()
            waiter = asyncio.ensure_future(self._audio_arrived.wait())
            either: list[asyncio.Future[Any]] = [waiter, self._closed]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()

    # ---------------------------------------------------------------- internals

    def _check_open(self) -> None:
        if self.is_closed:
            raise ConnectionError(f"AudioSocket leg {self.uuid} is closed ({self.close_reason})")

    def _write(self, data: bytes) -> None:
        self._writer.write(data)
        self.frames_sent += 1
        self._last_activity = self._loop.time()

    async def _silence(self, frame_bytes: int, pace: float) -> None:
        frame = HEADER.pack(Kind.AUDIO, frame_bytes) + bytes(frame_bytes)
        start = self._loop.time()
        index = 0
        while not self.is_closed:
            index += 1
            await asyncio.sleep(max(0.0, start + index * pace - self._loop.time()))
            if self._streaming or self.is_closed:
                continue
            try:
                self._write(frame)
                await self._writer.drain()
            except ConnectionError:
                return

    async def _read_loop(self) -> None:
        decoder = FrameDecoder(0xFFFF, accepted_kinds=_ALL_KINDS)
        try:
            while not self.is_closed:
                data = await self._reader.read(65536)
                if not data:
                    self._end(REASON_EOF)
                    return
                for frame in decoder.feed(data):
                    self._last_activity = self._loop.time()
                    if not self._on_frame(frame.kind, frame.payload):
                        return
        except (ConnectionError, ProtocolError):
            self._end(REASON_EOF)

    def _on_frame(self, kind: int, payload: bytes) -> bool:
        """False when the frame ended the connection."""
        if kind == Kind.AUDIO:
            self.received_audio += payload
            self.audio_frames_received += 1
            self._audio_arrived.set()
            return True
        if kind in _SERVER_AUDIO_KINDS:
            return True
        if kind == Kind.HANGUP:
            self._end(REASON_HANGUP_FRAME)
            return False
        # "Received AudioSocket message other than hangup or audio": app fails, TCP reset.
        self.bad_frame_kind = kind
        self._end(REASON_BAD_FRAME, abort=True)
        return False

    async def _watch_inactivity(self) -> None:
        while not self.is_closed:
            remaining = self._last_activity + self.inactivity_timeout - self._loop.time()
            if remaining <= 0:
                self._end(REASON_INACTIVITY)
                return
            await asyncio.sleep(remaining)

    def _end(self, reason: str, *, abort: bool = False) -> None:
        if self.is_closed:
            return
        self.close_reason = reason
        self._closed.set_result(reason)
        self._audio_arrived.set()
        if abort:
            self._writer.transport.abort()
        else:
            self._writer.close()
        current = asyncio.current_task()
        for task in [*self._tasks, self._silence_task]:
            if task is not None and task is not current:
                task.cancel()

    async def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        every = [*self._tasks, self._silence_task]
        tasks = [t for t in every if t is not None and t is not current]
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self._writer.wait_closed()
        except ConnectionError:
            pass
