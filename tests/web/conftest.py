from __future__ import annotations

import pytest

from gateway.embedded_redis import EmbeddedRedis
from gateway.settings import ApiClient, HttpSettings
from tests.store.conftest import store, webhook_secret
from tests.store.support import settings_for
from tests.web.support import TOKENS, token

# the same store and webhook-secret fixtures as the store tests (one definition)
__all__ = ["store", "webhook_secret"]


@pytest.fixture
def web_settings(redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch):
    clients = {}
    for name, (role, centre) in TOKENS.items():
        monkeypatch.setenv(f"GW_TEST_TOKEN_{name.upper()}", token(name))
        clients[name] = ApiClient.model_validate(
            {"role": role, "centre": centre, "token": {"env": f"GW_TEST_TOKEN_{name.upper()}"}}
        )
    return settings_for(redis_server.url, api_clients=clients, http=HttpSettings(max_body=2048))
