"""One AudioSocket connection from Asterisk: frames in, paced audio out, one clean end.

The connection is an ``asyncio.Protocol`` (no per-frame awaits on the read side); the
shared :class:`~gateway.audiosocket.clock.FrameClock` drives the write side and checks
the time-outs, so a connection costs no timer or task of its own.

Every way a connection can end sets ``close_reason`` once (the first cause wins), logs
one line with the call id, ends ``incoming()`` and resolves a running ``play()``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.audiosocket.clock import FrameClock
from gateway.audiosocket.protocol import (
    HANGUP_FRAME,
    HEADER,
    HIGH_RATE_AUDIO_KINDS,
    Frame,
    FrameDecoder,
    Kind,
    ProtocolError,
    frame_bytes_for,
    parse_dtmf,
    parse_error,
    parse_uuid,
)
from gateway.logs import get_logger
from gateway.settings import AudioSocketSettings

LOGGER = "gateway.audiosocket"

# Frames of caller audio held for a consumer that is behind (~10 s at 20 ms); beyond it new
# audio is dropped and counted (DTMF never is).
DEFAULT_MAX_QUEUED_AUDIO = 500
# Bytes queued in our socket buffer before the peer counts as not reading (~2 s of audio).
DEFAULT_MAX_WRITE_BUFFER = 64 * 1024
# After close(), how long the kernel may take to flush our last frames before we abort.
_CLOSE_GRACE = 1.0


class CloseReason(StrEnum):
    PEER_CLOSED = "peer-closed"  # Asterisk closed TCP: Redirect, AMI Hangup, caller BYE
    PEER_HANGUP = "peer-hangup"  # peer sent 0x00 (Asterisk never does)
    PEER_ERROR = "peer-error"  # peer sent 0xff
    CONNECTION_LOST = "connection-lost"  # socket error (reset)
    HANGUP = "hangup"  # our hangup(): 0x00 then close
    REJECTED = "rejected"  # the handler raised RejectCall (unknown uuid ...)
    HANDLER_ERROR = "handler-error"
    HANDLER_FINISHED = "handler-finished"  # handler returned with the call still open
    SERVER_STOPPED = "server-stopped"
    FIRST_FRAME_TIMEOUT = "first-frame-timeout"
    IDLE_TIMEOUT = "idle-timeout"
    PEER_NOT_READING = "peer-not-reading"
    # protocol violations (ProtocolError.reason or found here)
    UNKNOWN_KIND = "unknown-kind"
    PAYLOAD_TOO_LARGE = "payload-too-large"
    BAD_UUID = "bad-uuid"
    BAD_DTMF = "bad-dtmf"
    SECOND_UUID = "second-uuid"
    FRAME_BEFORE_UUID = "frame-before-uuid"
    UNSUPPORTED_AUDIO_RATE = "unsupported-audio-rate"
    BAD_AUDIO_LENGTH = "bad-audio-length"


# Ends that are the peer's or our normal doing; everything else is logged as a warning.
_ORDINARY_ENDS = frozenset(
    {CloseReason.PEER_CLOSED, CloseReason.HANGUP, CloseReason.SERVER_STOPPED}
)


@dataclass(frozen=True, slots=True)
class Audio:
    """Caller audio: signed 16-bit little-endian PCM, 8 kHz mono, any length."""

    pcm: bytes


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


Incoming = Audio | Dtmf


@dataclass(slots=True)
class _Playback:
    frames: list[bytes]
    done: asyncio.Future[bool]
    index: int = 0

    def finish(self, completed: bool) -> None:
        if not self.done.done():
            self.done.set_result(completed)


@dataclass(slots=True)
class _Counters:
    frames_in: int = 0
    frames_out: int = 0
    audio_dropped: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def prompt_frames(pcm: bytes, frame_bytes: int) -> list[bytes]:
    """Encode PCM as 0x10 frames of exactly ``frame_bytes`` (the last padded with silence,
    so every frame fills its 20 ms slot and the pacing stays exact)."""
    if len(pcm) % 2:
        raise ValueError(f"PCM must be whole 16-bit samples, got {len(pcm)} bytes")
    header = HEADER.pack(Kind.AUDIO, frame_bytes)
    frames = []
    for start in range(0, len(pcm), frame_bytes):
        chunk = pcm[start : start + frame_bytes]
        if len(chunk) < frame_bytes:
            chunk = chunk + bytes(frame_bytes - len(chunk))
        frames.append(header + chunk)
    return frames


class AudioSocketCall(asyncio.Protocol):
    """One connection. Public: ``uuid``, ``incoming()``, ``play()``, ``stop_playback()``,
    ``hangup()``, ``closed``, ``close_reason``. The rest is the transport's and the server's."""

    def __init__(
        self,
        settings: AudioSocketSettings,
        clock: FrameClock,
        *,
        on_uuid: Callable[[AudioSocketCall], None],
        on_finished: Callable[[AudioSocketCall], None],
        max_queued_audio: int = DEFAULT_MAX_QUEUED_AUDIO,
        max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
    ) -> None:
        self.uuid = ""
        self.peer = ""
        self.closed = asyncio.Event()
        self.close_reason: str | None = None
        self.counters = _Counters()
        self._settings = settings
        self._clock = clock
        self._on_uuid = on_uuid
        self._on_finished = on_finished
        self._max_queued_audio = max_queued_audio
        self._max_write_buffer = max_write_buffer
        self._frame_bytes = frame_bytes_for(settings.frame_ms)
        self._silence = HEADER.pack(Kind.AUDIO, self._frame_bytes) + bytes(self._frame_bytes)
        self._decoder = FrameDecoder(settings.max_payload)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._connected_at = 0.0
        self._last_rx = 0.0
        self._closing = False
        self._inbox: deque[Incoming] = deque()
        self._queued_audio = 0
        self._waiter: asyncio.Future[None] | None = None
        self._playback: _Playback | None = None
        self._log = get_logger(LOGGER)

    def __repr__(self) -> str:
        return f"<AudioSocketCall {self.uuid or '?'} from {self.peer}>"

    # ------------------------------------------------------------------ public API

    @property
    def playing(self) -> bool:
        return self._playback is not None

    async def incoming(self) -> AsyncIterator[Incoming]:
        """Audio and DTMF in arrival order, until the connection ends (nothing queued is lost)."""
        while True:
            while self._inbox:
                item = self._inbox.popleft()
                if isinstance(item, Audio):
                    self._queued_audio -= 1
                yield item
            if self._closing:
                return
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def play(self, pcm: bytes) -> bool:
        """Send ``pcm`` at one frame per ``frame_ms``; True when all of it went out, False
        when interrupted (stop_playback, another play, the call ended). Replaces a prompt
        that is still playing."""
        frames = prompt_frames(pcm, self._frame_bytes)
        if self._closing:
            return False
        self.stop_playback()
        if not frames:
            return True
        playback = _Playback(frames, self._loop.create_future())
        self._playback = playback
        try:
            return await playback.done
        finally:
            if self._playback is playback:  # cancelled while playing
                self._playback = None

    def stop_playback(self) -> bool:
        """Stop at once (barge-in, route decision); silence follows. True if something played."""
        playback, self._playback = self._playback, None
        if playback is None:
            return False
        playback.finish(False)
        return True

    async def hangup(self) -> None:
        """End our part: 0x00 then close. Asterisk's AudioSocket() then returns normally and
        the shipped dialplan sends the caller to 110 unless a Redirect already moved it."""
        self.terminate(CloseReason.HANGUP)
        await self.closed.wait()

    def terminate(self, reason: str, detail: str = "") -> None:
        """Server side: 0x00 then close, recording ``reason`` (first reason wins)."""
        self._close(reason, detail, send_hangup=True)

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peername = transport.get_extra_info("peername")
        self.peer = f"{peername[0]}:{peername[1]}" if peername else "?"
        # Loggers are made per connection, not at import, so they follow the logging
        # configuration in force when the call arrives.
        self._log = get_logger(LOGGER, peer=self.peer)
        self._connected_at = self._last_rx = self._loop.time()
        self._clock.add(self)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            frames = self._decoder.feed(data)
        except ProtocolError as exc:
            for frame in exc.frames_before:
                self._on_frame(frame)
            self._close(exc.reason, exc.detail, send_hangup=True)
            return
        for frame in frames:
            self._on_frame(frame)
            if self._closing:
                return

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost records why

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closing:
            reason = CloseReason.PEER_CLOSED if exc is None else CloseReason.CONNECTION_LOST
            self._begin_close(reason, str(exc) if exc else "")
        self._finish()

    # ------------------------------------------------------------------ clock side

    def on_tick(self, now: float, periods: int) -> None:
        if self._closing:
            return
        if not self.uuid:
            if now - self._connected_at > self._settings.first_frame_timeout:
                self._close(
                    CloseReason.FIRST_FRAME_TIMEOUT,
                    f"no uuid frame within {self._settings.first_frame_timeout:g} s "
                    f"({self._decoder.pending} bytes pending)",
                    send_hangup=True,
                )
            return
        if now - self._last_rx > self._settings.idle_timeout:
            self._close(
                CloseReason.IDLE_TIMEOUT,
                f"no whole frame for {self._settings.idle_timeout:g} s "
                f"({self._decoder.pending} bytes pending)",
                send_hangup=True,
            )
            return
        self._send_frames(periods)

    def _send_frames(self, periods: int) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        playback = self._playback
        if playback is None:
            data = self._silence if periods == 1 else self._silence * periods
        else:
            parts = []
            for _ in range(periods):
                if playback.index < len(playback.frames):
                    parts.append(playback.frames[playback.index])
                    playback.index += 1
                else:
                    parts.append(self._silence)
            data = parts[0] if periods == 1 else b"".join(parts)
            if playback.index >= len(playback.frames):
                self._playback = None
                playback.finish(True)
        transport.write(data)
        self.counters.frames_out += periods
        if transport.get_write_buffer_size() > self._max_write_buffer:
            self._close(
                CloseReason.PEER_NOT_READING,
                f"{transport.get_write_buffer_size()} bytes unsent",
                send_hangup=False,
                abort=True,
            )

    # ---------------------------------------------------------------- frames in

    def _on_frame(self, frame: Frame) -> None:
        if self._closing:
            return
        self.counters.frames_in += 1
        self._last_rx = self._loop.time()
        kind = frame.kind
        if kind == Kind.AUDIO and self.uuid:
            self._on_audio(frame.payload)
        elif kind == Kind.UUID:
            self._on_uuid_frame(frame.payload)
        elif not self.uuid:
            self._protocol_error(
                CloseReason.FRAME_BEFORE_UUID, f"{frame.describe()} frame before the uuid"
            )
        elif kind == Kind.DTMF:
            try:
                self._enqueue(Dtmf(parse_dtmf(frame.payload)))
            except ProtocolError as exc:
                self._protocol_error(exc.reason, exc.detail)
        elif kind == Kind.HANGUP:
            self._close(CloseReason.PEER_HANGUP, "peer sent a hang-up frame", send_hangup=False)
        elif kind == Kind.ERROR:
            self._close(
                CloseReason.PEER_ERROR,
                f"error code {parse_error(frame.payload)}",
                send_hangup=False,
            )
        elif kind in HIGH_RATE_AUDIO_KINDS:
            self._protocol_error(
                CloseReason.UNSUPPORTED_AUDIO_RATE,
                f"audio kind 0x{kind:02x}; the gateway takes 8 kHz slin (0x10) only",
            )
        else:  # the decoder only passes known kinds; kept for safety
            self._protocol_error(CloseReason.UNKNOWN_KIND, f"kind 0x{kind:02x}")

    def _on_uuid_frame(self, payload: bytes) -> None:
        if self.uuid:
            self._protocol_error(CloseReason.SECOND_UUID, "a second uuid frame on one call")
            return
        try:
            self.uuid = parse_uuid(payload)
        except ProtocolError as exc:
            self._protocol_error(exc.reason, exc.detail)
            return
        self._log = self._log.bind(call_id=self.uuid)
        self._log.info("audiosocket.call_started")
        self._on_uuid(self)

    def _on_audio(self, pcm: bytes) -> None:
        if len(pcm) % 2:
            self._protocol_error(
                CloseReason.BAD_AUDIO_LENGTH, f"audio payload of {len(pcm)} bytes (odd)"
            )
            return
        if not pcm:
            return
        if self._queued_audio >= self._max_queued_audio:
            if not self.counters.audio_dropped:
                self._log.warning("audiosocket.audio_dropped", queued=self._queued_audio)
            self.counters.audio_dropped += 1
            return
        self._queued_audio += 1
        self._enqueue(Audio(pcm))

    def _enqueue(self, item: Incoming) -> None:
        self._inbox.append(item)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # ------------------------------------------------------------------ closing

    def _protocol_error(self, reason: str, detail: str) -> None:
        self._close(reason, detail, send_hangup=True)

    def _close(self, reason: str, detail: str, *, send_hangup: bool, abort: bool = False) -> None:
        if self._closing:
            return
        self._begin_close(reason, detail)
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if abort:
            transport.abort()
            return
        if send_hangup:
            transport.write(HANGUP_FRAME)
        transport.close()
        # close() waits for the buffer to drain; a peer that stopped reading must not
        # keep the connection (and this call) alive.
        self._loop.call_later(_CLOSE_GRACE, self._abort_if_open)

    def _abort_if_open(self) -> None:
        if not self.closed.is_set() and self._transport is not None:
            self._transport.abort()

    def _begin_close(self, reason: str, detail: str) -> None:
        self._closing = True
        self.close_reason = reason
        self._clock.discard(self)
        self.stop_playback()
        self._wake()
        fields: dict[str, Any] = {
            "reason": str(reason),
            "frames_in": self.counters.frames_in,
            "frames_out": self.counters.frames_out,
            "seconds": round(self._loop.time() - self._connected_at, 3),
        }
        if detail:
            fields["detail"] = detail
        if self.counters.audio_dropped:
            fields["audio_dropped"] = self.counters.audio_dropped
        if reason in _ORDINARY_ENDS:
            self._log.info("audiosocket.closed", **fields)
        else:
            self._log.warning("audiosocket.closed", **fields)

    def _finish(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self._on_finished(self)
