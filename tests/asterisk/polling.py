"""Waiting on things outside this process that have no event to await: a file another
program writes (SIPp's message log, the gateway process's log), Asterisk's console
socket, a value only a query can read. One helper, one interval, always bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.retry import bounded

T = TypeVar("T")
INTERVAL = 0.05


async def poll_until(check: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    """Call ``check`` every 50 ms until it returns something other than None/False."""

    async def loop() -> T:
        while True:
            found = await check()
            if found is not None and found is not False:
                return found
            await asyncio.sleep(INTERVAL)

    return await bounded(loop(), timeout, what)
