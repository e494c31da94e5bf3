"""Shared fixtures: real servers on free ports, stopped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
# captured from a real Asterisk 22.10.1 (tests/fixtures/asterisk/README.md)
TRANSCRIPTS = Path(__file__).resolve().parent / "fixtures" / "asterisk"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """One real redis-server for the session; tests flush it through ``redis_client``."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
async def redis_client(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=False)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
def transcripts() -> Path:
    return TRANSCRIPTS
