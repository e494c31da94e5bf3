"""RTP streams as pcap files, for SIPp's ``play_pcap_audio``: a caller's voice and keys.

SIPp replays the packets with the pcap's own timing, rewriting only addresses and ports,
so each file here is a complete RTP stream: G.711 mu-law (payload type 0) for audio,
RFC 4733 telephone-events (payload type 101) for keys, 20 ms apart.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import numpy as np

RATE = 8000
PTIME = 0.020
SAMPLES = int(RATE * PTIME)
PT_PCMU = 0
PT_EVENT = 101
_DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def ulaw_encode(samples: np.ndarray) -> bytes:
    """G.711 mu-law of signed 16-bit samples (ITU-T G.711, segment encoding)."""
    x = np.clip(samples.astype(np.int32), -32635, 32635)
    sign = np.where(x < 0, 0x80, 0x00)
    magnitude = np.abs(x) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def voice(seconds: float, *, level: float = 6000.0, seed: int = 7) -> np.ndarray:
    """Speech-like sound: voiced syllables (harmonics, 4 per second) well above the
    gateway's energy threshold, with short dips between them like real speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.65 + 0.35 * np.sin(2 * np.pi * 4 * t) ** 2
    noise = rng.normal(0, 0.05, t.size)
    return level * (tone / 2.3 * envelope + noise)


def silence(seconds: float, *, level: float = 30.0, seed: int = 11) -> np.ndarray:
    """A quiet line: comfort-noise level, far below the energy threshold."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, level, int(seconds * RATE))


class _Writer:
    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")
        # pcap global header: magic, v2.4, UTC, sigfigs, snaplen, Ethernet
        self._file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        rng = random.Random(path.name)
        self.ssrc = rng.getrandbits(32)
        self.seq = rng.getrandbits(15)
        self.timestamp = rng.getrandbits(31)
        self.at = 0.0

    def packet(self, payload_type: int, payload: bytes, *, marker: bool = False) -> None:
        rtp = struct.pack(
            "!BBHII",
            0x80,
            (0x80 if marker else 0) | payload_type,
            self.seq & 0xFFFF,
            self.timestamp & 0xFFFFFFFF,
            self.ssrc,
        )
        udp_payload = rtp + payload
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(udp_payload), 0) + udp_payload
        ip = (
            struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(udp),
                0,
                0,
                64,
                17,
                0,
                bytes([127, 0, 0, 1]),
                bytes([127, 0, 0, 1]),
            )
            + udp
        )
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        seconds = int(self.at)
        micros = round((self.at - seconds) * 1e6)
        self._file.write(struct.pack("<IIII", seconds, micros, len(frame), len(frame)))
        self._file.write(frame)
        self.seq += 1

    def close(self) -> None:
        self._file.close()


def write_audio(path: Path, samples: np.ndarray) -> Path:
    """One RTP packet per 20 ms of ``samples`` (mu-law)."""
    writer = _Writer(path)
    try:
        for start in range(0, len(samples) - SAMPLES + 1, SAMPLES):
            payload = ulaw_encode(samples[start : start + SAMPLES])
            writer.packet(PT_PCMU, payload, marker=start == 0)
            writer.timestamp += SAMPLES
            writer.at += PTIME
    finally:
        writer.close()
    return path


def write_dtmf(path: Path, digit: str, *, duration: float = 0.16) -> Path:
    """One key as RFC 4733 events: updates every 20 ms, then the end packet three times."""
    event = _DTMF_EVENTS[digit]
    writer = _Writer(path)
    try:
        steps = max(1, int(duration / PTIME))
        for step in range(1, steps + 1):
            body = struct.pack("!BBH", event, 10, step * SAMPLES)
            writer.packet(PT_EVENT, body, marker=step == 1)
            writer.at += PTIME
        end = struct.pack("!BBH", event, 0x80 | 10, steps * SAMPLES)
        for _ in range(3):
            writer.packet(PT_EVENT, end)
            writer.at += PTIME / 4
    finally:
        writer.close()
    return path
