"""Loopback ports for one test Asterisk and its SIP peers (UDP and TCP alike)."""

from __future__ import annotations

import random
import socket

_taken: set[int] = set()  # handed out in this process: never twice


def _free(port: int) -> bool:
    if port in _taken:
        return False
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_block(size: int = 1, *, low: int = 20000, high: int = 60000) -> int:
    """The first port of ``size`` consecutive ports free for UDP and TCP on 127.0.0.1."""
    rng = random.Random()
    for _ in range(2000):
        base = rng.randrange(low, high - size) & ~1  # even: RTP pairs start even
        if all(_free(p) for p in range(base, base + size)):
            _taken.update(range(base, base + size))
            return base
    raise RuntimeError(f"no block of {size} free ports on 127.0.0.1")


def free_port() -> int:
    return free_block(1)
