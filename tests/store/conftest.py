from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from gateway.embedded_redis import EmbeddedRedis
from gateway.store import TicketStore
from tests.store.support import WEBHOOK_SECRET, WEBHOOK_SECRET_ENV, settings_for, store_for


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, WEBHOOK_SECRET)


@pytest.fixture
async def store(
    redis_server: EmbeddedRedis, redis_client: aioredis.Redis
) -> AsyncIterator[TicketStore]:
    ticket_store = store_for(settings_for(redis_server.url))
    yield ticket_store
    await ticket_store.close()
