"""Event-loop lag: how late a 50 ms timer fires. One slow callback delays every call."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class LoopLagMonitor:
    def __init__(self, period: float = 0.05, keep: int = 20_000) -> None:
        self.period = period
        self.samples: deque[float] = deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.period
            await asyncio.sleep(self.period)
            self.samples.append(max(0.0, loop.time() - expected))

    def reset(self) -> None:
        self.samples.clear()

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100) of recorded lags in seconds; 0 with no samples."""
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        index = min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))
        return ordered[index]
