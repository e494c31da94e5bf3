"""One shared frame clock for every AudioSocket connection.

Each live connection must get one audio frame every 20 ms (a prompt frame, or silence so
Asterisk's 2 s inactivity limit never fires). One ``loop.call_at`` timer for all calls
costs a fixed number of wake-ups however many calls there are; a task per call costs N
(bench/bench_audiosocket.py compares both).

Members are spread over ``phases`` evenly spaced slots of the period (4 slots of 5 ms for
20 ms frames), so one wake-up writes to a quarter of the calls: the event loop never
stalls for all of them at once. Each member is still served on its own exact grid
``t0 + phase_offset + k * period`` of the loop's monotonic clock, so pacing never drifts.
When the loop was late, a member is told how many of its periods passed and sends that
many frames (up to ``max_catch_up``; beyond that the backlog is dropped and the grid moves
on - a long burst to a caller is worse than a gap).
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol

from gateway.logs import get_logger


class Ticked(Protocol):
    def on_tick(self, now: float, periods: int) -> None: ...


class FrameClock:
    def __init__(self, period: float, *, phases: int = 4, max_catch_up: int = 5) -> None:
        self.period = period
        self.phases = phases
        self.max_catch_up = max_catch_up
        self._slot = period / phases
        self._buckets: list[dict[Ticked, None]] = [{} for _ in range(phases)]  # ordered sets
        self._bucket_of: dict[Ticked, int] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._t0 = 0.0
        self._slot_index = 0
        self.wakeups = 0
        self.dropped_periods = 0
        self.max_lateness = 0.0

    def __len__(self) -> int:
        return len(self._bucket_of)

    def add(self, member: Ticked) -> None:
        if member in self._bucket_of:
            return
        bucket = min(range(self.phases), key=lambda b: len(self._buckets[b]))
        self._buckets[bucket][member] = None
        self._bucket_of[member] = bucket
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._t0 = loop.time()
            self._slot_index = 0
            self._schedule(loop)

    def discard(self, member: Ticked) -> None:
        bucket = self._bucket_of.pop(member, None)
        if bucket is not None:
            self._buckets[bucket].pop(member, None)
        if not self._bucket_of and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def close(self) -> None:
        for bucket in self._buckets:
            bucket.clear()
        self._bucket_of.clear()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        when = self._t0 + (self._slot_index + 1) * self._slot
        self._handle = loop.call_at(when, self._wake)

    def _wake(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        # ``now`` can be a hair before the deadline (the loop's clock resolution).
        due = max(self._slot_index + 1, math.floor((now - self._t0) / self._slot + 1e-6))
        self.max_lateness = max(self.max_lateness, now - (self._t0 + due * self._slot))
        self.wakeups += 1
        periods = [0] * self.phases
        for slot in range(self._slot_index + 1, due + 1):
            periods[slot % self.phases] += 1
        self._slot_index = due
        for bucket, count in enumerate(periods):
            if count:
                if count > self.max_catch_up:
                    self.dropped_periods += count - self.max_catch_up
                    count = self.max_catch_up
                self._tick_bucket(bucket, now, count)
        if self._bucket_of:
            self._schedule(loop)
        else:
            self._handle = None

    def _tick_bucket(self, bucket: int, now: float, periods: int) -> None:
        for member in tuple(self._buckets[bucket]):
            try:
                member.on_tick(now, periods)
            except Exception:  # one broken member must not stop every other call's audio
                get_logger("gateway.audiosocket.clock").exception(
                    "audiosocket.clock_member_failed", member=repr(member)
                )
                self.discard(member)
