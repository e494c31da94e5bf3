"""Helpers shared by the store, outbox and web tests: settings and a store on real Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.settings import (
    LoopSettings,
    RedisSettings,
    RetentionSettings,
    Settings,
    WebhookSettings,
    WebhookTarget,
    load_settings,
)
from gateway.store import TicketStore, make_client

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
WEBHOOK_SECRET_ENV = "GW_TEST_WEBHOOK_SECRET"
WEBHOOK_SECRET = "s3cret-for-tests"


def settings_for(redis_url: str, *, receiver_url: str | None = None, **sections: Any) -> Settings:
    base = load_settings()
    webhooks = sections.pop("webhooks", None) or WebhookSettings(
        backoff_initial=1.0,
        backoff_max=600.0,
        targets=(
            {
                "*/12345": WebhookTarget.model_validate(
                    {"url": receiver_url, "secret": {"env": WEBHOOK_SECRET_ENV}, "timeout": 0.5}
                ),
                "*/mediation": WebhookTarget.model_validate(
                    {"url": receiver_url, "secret": {"env": WEBHOOK_SECRET_ENV}, "timeout": 0.5}
                ),
            }
            if receiver_url
            else {}
        ),
    )
    return base.model_copy(
        update={
            "redis": RedisSettings(url=redis_url, op_timeout=0.5),
            "webhooks": webhooks,
            "retention": sections.pop("retention", RetentionSettings()),
            "loop": sections.pop("loop", LoopSettings()),
            **sections,
        }
    )


def store_for(settings: Settings) -> TicketStore:
    return TicketStore(
        make_client(settings.redis),
        redis=settings.redis,
        retention=settings.retention,
        loop=settings.loop,
        webhooks=settings.webhooks,
    )


def ticket_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "call_id": "c0ffee00-0000-4000-8000-000000000001",
        "city": "nanchang",
        "caller": "13812345678",
        "route": "12345",
        "category": "move_car",
        "confidence": 0.9,
        "transcript": "我的车被挡住了 车牌赣A12345 在八一广场",
        "rule": "divert",
        "route_reason": "triage",
        "route_ms": 7400,
    }
    fields.update(overrides)
    return fields
