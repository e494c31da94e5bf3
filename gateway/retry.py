"""The one timeout and back-off helper every edge uses (AMI, Redis, webhooks, trunks)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with full jitter, capped; ``delays()`` never ends."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: bool = True

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield random.uniform(delay / 2, delay) if self.jitter else delay
            delay = min(self.maximum, delay * self.factor)

    def delay_for(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (0-based), without jitter."""
        return min(self.maximum, self.initial * self.factor**attempt)


class ActionTimeout(asyncio.TimeoutError):
    """An awaited operation did not finish in time; names what and how long."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what} did not complete within {seconds:.3g} s")
        self.what = what
        self.seconds = seconds


async def bounded(aw: Awaitable[T], seconds: float, what: str) -> T:
    """Await ``aw`` for at most ``seconds``; raise ActionTimeout naming ``what``."""
    try:
        async with asyncio.timeout(seconds):
            return await aw
    except TimeoutError:
        raise ActionTimeout(what, seconds) from None
