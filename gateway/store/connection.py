"""One Redis client per process, and the guard every store call goes through.

Every operation is bounded by ``redis.op_timeout`` and any connection failure becomes
:class:`StoreUnavailable` at once, so a dead Redis costs the call path at most one
timeout. redis-py reconnects on the next command; one immediate retry lets a command
that met a connection killed by a Redis restart succeed on a fresh one.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway.retry import ActionTimeout, bounded
from gateway.settings import RedisSettings
from gateway.store.errors import StoreUnavailable

T = TypeVar("T")

FAILURES: tuple[type[BaseException], ...] = (
    # RedisError covers connection and timeout errors and also the "response" kind
    # (OOM, READONLY after a failover): all of them mean the store is not usable now.
    RedisError,
    ActionTimeout,
    ConnectionError,
    OSError,
)


# Connections per process. A caller beyond this waits (up to op_timeout) for a free
# one instead of failing, so a burst of calls queues rather than errors.
POOL_SIZE = 64


def make_client(settings: RedisSettings, pool_size: int = POOL_SIZE) -> aioredis.Redis:
    retry = Retry(NoBackoff(), 1)
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.url,
        max_connections=pool_size,
        timeout=settings.op_timeout,
        decode_responses=True,
        socket_timeout=settings.op_timeout,
        socket_connect_timeout=settings.op_timeout,
        retry=retry,
        retry_on_error=[RedisConnectionError],
    )
    return aioredis.Redis(connection_pool=pool, retry=retry, retry_on_error=[RedisConnectionError])


async def guarded(aw: Awaitable[T], seconds: float, what: str) -> T:
    """Await a Redis operation for at most ``seconds``; failures → StoreUnavailable."""
    try:
        return await bounded(aw, seconds, what)
    except FAILURES as exc:
        raise StoreUnavailable(what, exc) from exc
