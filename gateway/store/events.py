"""The event bus: one Redis stream that the live board follows.

The call path and the ticket store publish here (call started, partial text,
decision, redirect, ticket state changes, alerts). Publishing is best-effort: a dead
Redis must not slow a call, so :meth:`EventBus.publish` logs and returns None.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from gateway.logs import get_logger
from gateway.store.connection import guarded
from gateway.store.errors import StoreUnavailable

STREAM_MAXLEN = 20_000
log = get_logger("gateway.store.events")


def event_fields(kind: str, data: dict[str, Any], at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "kind": kind,
        "at": at.isoformat(),
        "data": json.dumps(data, ensure_ascii=False, default=str),
    }


def decode_event(event_id: str, fields: dict[str, str]) -> dict[str, Any]:
    return {
        "id": event_id,
        "kind": fields.get("kind", ""),
        "at": fields.get("at", ""),
        "data": json.loads(fields.get("data") or "{}"),
    }


class EventBus:
    def __init__(self, client: aioredis.Redis, stream: str, op_timeout: float) -> None:
        self._client: Any = client  # replies are str (decode_responses), typed as unions
        self.stream = stream
        self._timeout = op_timeout

    async def publish(self, kind: str, data: dict[str, Any]) -> str | None:
        """Append one event; returns its stream id, or None when Redis is unavailable."""
        try:
            return str(
                await guarded(
                    self._client.xadd(
                        self.stream,
                        event_fields(kind, data),
                        maxlen=STREAM_MAXLEN,
                        approximate=True,
                    ),
                    self._timeout,
                    "publish event",
                )
            )
        except StoreUnavailable as exc:
            log.warning("event_dropped", kind=kind, error=str(exc))
            return None

    async def recent(self, count: int = 200) -> list[dict[str, Any]]:
        entries = await guarded(
            self._client.xrevrange(self.stream, count=count), self._timeout, "recent events"
        )
        return [decode_event(i, f) for i, f in reversed(entries)]

    async def follow(
        self, client: Any, last_id: str = "$", block_ms: int = 5000
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield events after ``last_id`` forever; ``client`` is a dedicated connection
        (a blocking read holds it). Raises StoreUnavailable when Redis goes away."""
        while True:
            try:
                replies = await client.xread({self.stream: last_id}, block=block_ms, count=100)
            except (OSError, ConnectionError) as exc:
                raise StoreUnavailable("follow events", exc) from exc
            except Exception as exc:
                if type(exc).__module__.startswith("redis"):
                    raise StoreUnavailable("follow events", exc) from exc
                raise
            if isinstance(replies, dict):  # RESP3 answers with a mapping
                replies = list(replies.items())
            for _stream, entries in replies or ():
                for event_id, fields in entries:
                    last_id = event_id
                    yield decode_event(event_id, fields)
