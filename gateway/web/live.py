"""Fan-out of the Redis event stream to the live board's connections (SSE).

One reader per app follows the stream on its own connection (a blocking read holds
it) and copies each event to every subscriber's bounded queue; a slow browser loses
old events rather than slowing the others. When Redis goes away the reader backs off
and resumes from the last id it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aioredis

from gateway.logs import get_logger
from gateway.retry import Backoff
from gateway.settings import RedisSettings
from gateway.store.errors import StoreUnavailable
from gateway.store.events import EventBus

log = get_logger("gateway.web.live")
QUEUE_SIZE = 500


class LiveFeed:
    def __init__(self, bus: EventBus, redis: RedisSettings, block_ms: int = 2000) -> None:
        self.bus = bus
        self.redis = redis
        self.block_ms = block_ms
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.subscribers.discard(queue)

    async def start(self) -> None:
        """Follow from the stream's current end, fixed now so that nothing published
        after start() returns is missed."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(await self._current_end()), name="live-feed")

    async def _current_end(self) -> str:
        try:
            latest = await self.bus.recent(1)
        except StoreUnavailable:
            return "$"
        return latest[-1]["id"] if latest else "0-0"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _deliver(self, event: dict[str, Any]) -> None:
        for queue in list(self.subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    async def _run(self, last_id: str) -> None:
        delays = Backoff(0.2, 5.0).delays()
        while True:
            client = aioredis.Redis.from_url(
                self.redis.url,
                decode_responses=True,
                socket_timeout=self.block_ms / 1000 + self.redis.op_timeout + 1,
                socket_connect_timeout=self.redis.op_timeout,
            )
            try:
                async for event in self.bus.follow(client, last_id, self.block_ms):
                    last_id = event["id"]
                    delays = Backoff(0.2, 5.0).delays()
                    self._deliver(event)
            except StoreUnavailable as exc:
                log.warning("live_feed_reconnecting", error=str(exc))
                await asyncio.sleep(next(delays))
            finally:
                await client.aclose()
