"""The shared frame clock: one frame per period per member, on a grid that does not drift."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.audiosocket.clock import FrameClock


class Counter:
    def __init__(self, stop_after: int = 0, done: asyncio.Event | None = None) -> None:
        self.periods = 0
        self.calls: list[tuple[float, int]] = []
        self.stop_after = stop_after
        self.done = done

    def on_tick(self, now: float, periods: int) -> None:
        self.periods += periods
        self.calls.append((now, periods))
        if self.done is not None and self.periods >= self.stop_after:
            self.done.set()


async def test_every_member_gets_one_frame_per_period_without_drift():
    period = 0.010
    # A catch-up cap far above the 5 s wait: a stall on a loaded machine is caught up, not
    # dropped, so every period the grid passed must have reached every member.
    clock = FrameClock(period, max_catch_up=10_000)
    done = asyncio.Event()
    members = [Counter() for _ in range(7)]
    watcher = Counter(stop_after=30, done=done)
    loop = asyncio.get_running_loop()
    started = loop.time()  # at (a hair before) the clock's grid origin
    for member in [*members, watcher]:
        clock.add(member)
    await asyncio.wait_for(done.wait(), 5)
    clock.close()
    assert clock.dropped_periods == 0  # every period the grid passed was sent
    for member in members:
        # At every tick the frames received so far match the time passed on the grid,
        # give or take the period in progress: no drift either way, however late a
        # wake-up was (a late one carries the missed periods).
        received = 0
        for now, periods in member.calls:
            assert periods >= 1
            received += periods
            assert abs(received - (now - started) / period) <= 1.5
        # Over the whole run, one frame per period on average (merged catch-ups included).
        last = member.calls[-1][0]
        assert (last - started) / received == pytest.approx(period, rel=0.2)


async def test_members_are_spread_over_the_phases_of_a_period():
    clock = FrameClock(0.020, phases=4)
    done = asyncio.Event()
    served_by_wakeup: dict[int, int] = {}

    class Member(Counter):
        def on_tick(self, now: float, periods: int) -> None:
            super().on_tick(now, periods)
            served_by_wakeup[clock.wakeups] = served_by_wakeup.get(clock.wakeups, 0) + 1

    members = [Member(stop_after=5, done=done if i == 7 else None) for i in range(8)]
    for member in members:
        clock.add(member)
    await asyncio.wait_for(done.wait(), 5)
    clock.close()
    # An on-time wake-up serves one slot: 2 of the 8 members, not all of them.
    assert min(served_by_wakeup.values()) == 2


async def test_a_blocked_loop_is_caught_up_then_the_grid_moves_on():
    # The 35 ms stall is far below the 500 ms cap even when a loaded machine adds to it.
    clock = FrameClock(0.010, phases=1, max_catch_up=50)
    done = asyncio.Event()
    member = Counter(stop_after=40, done=done)

    class Blocker:
        blocked = False

        def on_tick(self, now: float, periods: int) -> None:
            if not self.blocked:
                self.blocked = True
                time.sleep(0.035)  # the loop stalls for 3.5 periods

    clock.add(Blocker())
    clock.add(member)
    await asyncio.wait_for(done.wait(), 5)
    clock.close()
    assert max(p for _, p in member.calls) >= 3  # the missed frames were sent together
    assert clock.dropped_periods == 0


async def test_a_failing_member_is_dropped_and_the_others_keep_their_frames():
    clock = FrameClock(0.010)
    done = asyncio.Event()

    class Broken:
        def on_tick(self, now: float, periods: int) -> None:
            raise RuntimeError("bug")

    healthy = Counter(stop_after=5, done=done)
    clock.add(Broken())
    clock.add(healthy)
    await asyncio.wait_for(done.wait(), 5)
    assert len(clock) == 1
    clock.close()


async def test_clock_stops_when_its_last_member_leaves():
    clock = FrameClock(0.010)
    member = Counter()
    clock.add(member)
    clock.discard(member)
    assert clock._handle is None
