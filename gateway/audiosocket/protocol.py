"""AudioSocket framing: ``kind (1 byte) | length (2 bytes, big-endian) | payload``.

What a real Asterisk 22 does (tests/fixtures/asterisk, scenarios 05-15):

- 0x01 UUID: first frame, 16 *binary* bytes of the uuid given to ``AudioSocket()``.
- 0x10 audio: signed 16-bit little-endian PCM, 8 kHz mono, any size (320 bytes per
  20 ms from a Local channel, 480 per 30 ms from a SIP caller, a short last frame).
- 0x03 DTMF: one ASCII byte, from Asterisk only. Asterisk tears the call down if the
  server sends it, so nothing here encodes a server-side 0x03.
- 0x00 hang-up: from the server only; Asterisk never sends it, it just closes.
- 0xff error: never seen, decoded so the peer's reason can be logged.
- 0x11-0x18: audio at higher sample rates (newer Asterisk); a gateway built for 8 kHz
  rejects them as unsupported rather than feeding Vosk the wrong rate.

Pure code, no I/O: the server and the PBX double's leg both use it.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum

HEADER = struct.Struct(">BH")
HEADER_SIZE = HEADER.size
MAX_LENGTH_FIELD = 0xFFFF
SAMPLE_RATE = 8000
BYTES_PER_SAMPLE = 2
DTMF_DIGITS = frozenset("0123456789*#ABCDabcd")


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    ERROR = 0xFF


# Higher-rate slin kinds Asterisk may send (12 kHz ... 192 kHz); not accepted by the gateway.
HIGH_RATE_AUDIO_KINDS = frozenset(range(0x11, 0x19))
KNOWN_KINDS = frozenset(int(k) for k in Kind) | HIGH_RATE_AUDIO_KINDS


class ProtocolError(Exception):
    """The byte stream broke the AudioSocket protocol; ``reason`` is a short stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        # Whole frames decoded from the same chunk before the bad one: still delivered.
        self.frames_before: list[Frame] = []


@dataclass(frozen=True, slots=True)
class Frame:
    kind: int
    payload: bytes

    def describe(self) -> str:
        try:
            name = Kind(self.kind).name
        except ValueError:
            name = f"0x{self.kind:02x}"
        return f"{name}({len(self.payload)})"


def frame_bytes_for(frame_ms: int) -> int:
    """Bytes of 8 kHz 16-bit mono audio in one frame of ``frame_ms`` milliseconds."""
    return SAMPLE_RATE * frame_ms // 1000 * BYTES_PER_SAMPLE


def encode(kind: int, payload: bytes = b"") -> bytes:
    if not 0 <= kind <= 0xFF:
        raise ValueError(f"frame kind {kind} out of range")
    if len(payload) > MAX_LENGTH_FIELD:
        raise ValueError(f"payload of {len(payload)} bytes does not fit a frame")
    return HEADER.pack(kind, len(payload)) + payload


def encode_audio(pcm: bytes) -> bytes:
    return encode(Kind.AUDIO, pcm)


def encode_uuid(call_id: uuid.UUID) -> bytes:
    return encode(Kind.UUID, call_id.bytes)


def encode_dtmf(digit: str) -> bytes:
    """Asterisk → server only (the PBX double uses it; the gateway never sends DTMF)."""
    if len(digit) != 1 or digit not in DTMF_DIGITS:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return encode(Kind.DTMF, digit.encode("ascii"))


HANGUP_FRAME = encode(Kind.HANGUP)


def parse_uuid(payload: bytes) -> str:
    """16 binary bytes → canonical lower-case text uuid."""
    if len(payload) != 16:
        raise ProtocolError("bad-uuid", f"uuid payload is {len(payload)} bytes, expected 16")
    return str(uuid.UUID(bytes=payload))


def parse_dtmf(payload: bytes) -> str:
    if len(payload) != 1:
        raise ProtocolError("bad-dtmf", f"dtmf payload is {len(payload)} bytes, expected 1")
    digit = chr(payload[0])
    if digit not in DTMF_DIGITS:
        raise ProtocolError("bad-dtmf", f"dtmf byte 0x{payload[0]:02x} is not a digit")
    return digit.upper()


def parse_error(payload: bytes) -> str:
    return payload.hex() if payload else "none"


class FrameDecoder:
    """Streaming decoder: feed any chunks, get whole frames; frames may span reads.

    Checks the kind and length from the 3-byte header, before buffering the payload,
    so a hostile length never makes us hold more than ``max_payload`` bytes.
    """

    def __init__(self, max_payload: int, *, accepted_kinds: frozenset[int] = KNOWN_KINDS):
        self._max_payload = max_payload
        self._accepted = accepted_kinds
        self._buffer = bytearray()
        self._failed: ProtocolError | None = None

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Decode what ``data`` completes; raises ProtocolError (and stays failed)."""
        if self._failed is not None:
            self._failed.frames_before = []
            raise self._failed
        self._buffer += data
        frames: list[Frame] = []
        buffer = self._buffer
        offset = 0
        end = len(buffer)
        try:
            while end - offset >= HEADER_SIZE:
                kind, length = HEADER.unpack_from(buffer, offset)
                self._check_header(kind, length)
                if end - offset - HEADER_SIZE < length:
                    break
                start = offset + HEADER_SIZE
                frames.append(Frame(kind, bytes(buffer[start : start + length])))
                offset = start + length
        except ProtocolError as exc:
            exc.frames_before = frames
            self._failed = exc
            raise
        finally:
            del buffer[:offset]
        return frames

    def _check_header(self, kind: int, length: int) -> None:
        if kind not in self._accepted:
            raise ProtocolError("unknown-kind", f"frame kind 0x{kind:02x} is not AudioSocket")
        if length > self._max_payload:
            raise ProtocolError(
                "payload-too-large",
                f"kind 0x{kind:02x} announces {length} bytes, limit {self._max_payload}",
            )
