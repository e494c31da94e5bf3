"""The lease: Asterisk keeps a caller in our IVR only while we keep saying we are alive.

The dialplan arms ``TIMEOUT(absolute)=${GW_LEASE}`` before AudioSocket; this keeper
pushes it forward (AMI Setvar) for every call in the IVR, every ``lease_renewal``
seconds. A gateway that freezes, hangs or loses AMI stops renewing, and Asterisk takes
the caller to 110 when the lease runs out - no matter that the caller's own audio keeps
the AudioSocket busy.

Two promises the session relies on:

- after :meth:`CallLeases.release` no renewal for that channel is written to AMI (the
  check and the write happen in one step of the event loop), so a renewal can never
  re-arm the timeout of a call that was already moved to a route context;
- :meth:`CallLeases.fresh` is True only while the lease Asterisk holds surely has more
  than ``STALE_MARGIN`` seconds left; a session that finds it stale (the process was
  frozen) must not Redirect: the dialplan may already have taken the caller to 110;
- a lease that lapsed is never renewed again (that would re-arm the timeout of a call
  already in route-110).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from gateway.logs import get_logger

_log = get_logger("gateway.lease")

STALE_MARGIN = 1.0  # seconds of lease a Redirect must still have in hand


class VariableWriter(Protocol):
    async def setvar(self, channel: str | None, variable: str, value: str) -> None: ...


@dataclass
class _Held:
    since: float  # clock() when the session started holding the call
    until: float  # clock() after which we stop renewing (the session's own budget)
    renewed_at: float | None = None  # clock() when the last acknowledged renewal was sent


class CallLeases:
    def __init__(
        self,
        ami: VariableWriter,
        *,
        lease: float,
        every: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ami = ami
        self.lease = lease
        self.every = every
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._task: asyncio.Task[None] | None = None
        self._renewals: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="call-leases")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._renewals) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None

    async def hold(self, channel: str, max_hold: float) -> bool:
        """Start renewing ``channel``'s lease; renews once now. True if Asterisk took it."""
        now = self._clock()
        self._held[channel] = _Held(since=now, until=now + max_hold)
        await self._renew(channel)
        return self.fresh(channel)

    def release(self, channel: str) -> None:
        """No renewal for ``channel`` is written after this returns."""
        self._held.pop(channel, None)

    def fresh(self, channel: str) -> bool:
        held = self._held.get(channel)
        if held is None or held.renewed_at is None:
            return False
        return self._clock() < held.renewed_at + self.lease - STALE_MARGIN

    def held(self) -> list[str]:
        return list(self._held)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self.renew_all()

    def renew_all(self) -> list[asyncio.Task[None]]:
        """One renewal round: a renewal per held call, each its own task (one slow
        channel does not delay the others)."""
        tasks = []
        for channel in list(self._held):
            task = asyncio.create_task(self._renew(channel))
            self._renewals.add(task)
            task.add_done_callback(self._renewals.discard)
            tasks.append(task)
        return tasks

    async def _renew(self, channel: str) -> None:
        held = self._held.get(channel)
        if held is None:  # released since this renewal was scheduled
            return
        sent = self._clock()
        if held.renewed_at is not None and sent >= held.renewed_at + self.lease - STALE_MARGIN:
            # We were away (frozen, AMI down) too long: Asterisk may already have taken
            # the caller to 110. A renewal now would re-arm a timeout on a call in route-110,
            # so the lease is given up for good; the session then finds it stale.
            self._held.pop(channel, None)
            _log.error("lease lapsed: the dialplan has the caller", channel=channel)
            return
        if sent > held.until:
            # the session overran its budget: let the lease run out, the dialplan takes
            # the caller to 110 (the session is stuck; nothing else would end the call)
            _log.error("lease not renewed: call held past its budget", channel=channel)
            return
        try:
            # setvar writes before its first await: nothing can slip between check and write
            await self._ami.setvar(channel, "TIMEOUT(absolute)", f"{self.lease:g}")
        except Exception as exc:  # AMI down or the channel gone: the lease runs out
            _log.warning("lease renewal failed", channel=channel, error=str(exc))
            return
        current = self._held.get(channel)
        if current is held:
            held.renewed_at = sent


@dataclass(frozen=True)
class CallLease:
    """One call's view of the keeper, for its session."""

    leases: CallLeases
    channel: str

    def fresh(self) -> bool:
        return self.leases.fresh(self.channel)

    def release(self) -> None:
        self.leases.release(self.channel)
