"""A real HTTP receiver on a free port standing in for a centre's work-order system."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.outbox.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify
from tests.store.support import WEBHOOK_SECRET


@dataclass
class Receiver:
    mode: str = "ok"  # ok | 500 | down | garbage | hang | hang-once
    received: list[dict] = field(default_factory=list)
    bad_signatures: int = 0
    got_one: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None

    @property
    def keys(self) -> list[str]:
        return [r["key"] for r in self.received]

    @property
    def distinct_keys(self) -> set[str]:
        """What a receiver that dedupes on the idempotency key stores."""
        return set(self.keys)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if verify(
            WEBHOOK_SECRET, body, request.headers.get(SIGNATURE_HEADER, ""), int(time.time())
        ):
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        self.received.append({"key": request.headers[IDEMPOTENCY_HEADER], "body": json.loads(body)})
        self.got_one.set()
        if self.mode == "500":
            return web.Response(status=500, text="boom")
        if self.mode == "down":
            return web.Response(status=503, text="maintenance")
        if self.mode == "garbage":
            return web.Response(status=200, text="<html>ok?</html")
        if self.mode in ("hang", "hang-once"):
            if self.mode == "hang-once":
                self.mode = "ok"
            await asyncio.sleep(3600)
        return web.json_response({"accepted": True})

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("/hook"))

    async def close(self) -> None:
        if self.server:
            await self.server.close()
