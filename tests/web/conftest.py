from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from gateway.embedded_redis import EmbeddedRedis
from gateway.settings import ApiClient, HttpSettings
from gateway.store import TicketStore
from tests.store.support import WEBHOOK_SECRET, WEBHOOK_SECRET_ENV, settings_for, store_for
from tests.web.support import TOKENS, token


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


@pytest.fixture
def web_settings(redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch):
    clients = {}
    for name, (role, centre) in TOKENS.items():
        monkeypatch.setenv(f"GW_TEST_TOKEN_{name.upper()}", token(name))
        clients[name] = ApiClient.model_validate(
            {"role": role, "centre": centre, "token": {"env": f"GW_TEST_TOKEN_{name.upper()}"}}
        )
    return settings_for(redis_server.url, api_clients=clients, http=HttpSettings(max_body=2048))
