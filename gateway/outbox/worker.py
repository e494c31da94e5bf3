"""The outbox worker: claims due messages from Redis, POSTs them, records the outcome.

Each webhook is ``POST <target url>`` with JSON
``{"event": "ticket.created"|"ticket.withdrawn"|"ticket.escalated",
"idempotency_key": "<ticket id>:<event>", "ticket": {gw.ticket/1}}`` and headers
``Idempotency-Key``, ``X-GW-Event`` and ``X-GW-Signature`` (gateway.outbox.signing).
Targets: ``webhooks.targets["<city>/<route>"]`` or ``["*/<route>"]``. The same message
may arrive more than once (a sender died after sending); receivers dedupe on the key.

Delivered means the receiver answered 2xx with an empty body or a JSON object; any
other answer (5xx, 4xx, time-out, refused connection, a 2xx with garbage) is retried
with :class:`gateway.retry.Backoff` until ``webhooks.max_attempts``, then the message
goes to the dead-letter list that supervisors see (alert raised). Nothing is marked
delivered before a 2xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp

from gateway.logs import get_logger
from gateway.outbox.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign
from gateway.retry import Backoff
from gateway.settings import WebhookSettings, WebhookTarget
from gateway.store.errors import StoreUnavailable
from gateway.store.outbox_queue import OutboxQueue
from gateway.store.ticket_store import OutboxMessage, TicketStore

log = get_logger("gateway.outbox")
Clock = Callable[[], datetime]


def utc_clock() -> datetime:
    return datetime.now(UTC)


class DeliveryFailed(Exception):
    pass


class OutboxWorker:
    """``start()`` runs the loop as a task; ``stop()`` ends it; ``run_once(now)`` is one
    pass (tests and the benchmark drive it with explicit time)."""

    def __init__(
        self,
        store: TicketStore,
        settings: WebhookSettings,
        *,
        clock: Clock = utc_clock,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.queue = OutboxQueue(store)
        self.settings = settings
        self.clock = clock
        self.backoff = Backoff(settings.backoff_initial, settings.backoff_max, jitter=False)
        self._session = session
        self._own_session = session is None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight = asyncio.Semaphore(settings.concurrency)
        self.delivered = 0
        self.failures = 0

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def wake(self) -> None:
        """New messages were enqueued: poll now instead of at the next interval."""
        self._wake.set()

    async def _run(self) -> None:
        # Checked each pass: a cancellation swallowed inside a Redis call must not leave
        # stop() waiting forever.
        while not self._stopping:
            try:
                handled = await self.run_once(self.clock())
            except StoreUnavailable as exc:
                log.warning("outbox_store_unavailable", error=str(exc))
                handled = 0
            if handled:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def run_once(self, now: datetime) -> int:
        """Send every due message (up to ``batch``) concurrently; returns how many."""
        if self.queue.store.spool or self.queue.store.callback_spool:
            await self.queue.store.flush_spool()
        batch = await self.queue.claim(now, self.settings.batch, self.settings.lease_seconds)
        if batch:
            await asyncio.gather(*(self._deliver(msg, now) for msg in batch))
        return len(batch)

    def target_for(self, msg: OutboxMessage) -> WebhookTarget | None:
        targets = self.settings.targets
        return targets.get(f"{msg.city}/{msg.route}") or targets.get(f"*/{msg.route}")

    async def _deliver(self, msg: OutboxMessage, now: datetime) -> None:
        async with self._in_flight:
            await self._deliver_one(msg, now)

    async def _deliver_one(self, msg: OutboxMessage, now: datetime) -> None:
        target = self.target_for(msg)
        if target is None:
            await self.queue.failed(msg, f"no webhook target for {msg.city}/{msg.route}", now, None)
            return
        try:
            await self._post(target, msg)
        except (DeliveryFailed, aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.failures += 1
            error = f"{type(exc).__name__}: {exc}"
            attempt = msg.attempts + 1
            retry_at = None
            if attempt < self.settings.max_attempts:
                retry_at = now + timedelta(seconds=self.backoff.delay_for(attempt - 1))
            log.info("webhook_failed", message=msg.id, attempt=attempt, error=error)
            await self.queue.failed(msg, error, now, retry_at)
            return
        self.delivered += 1
        await self.queue.delivered(msg, now)

    async def _post(self, target: WebhookTarget, msg: OutboxMessage) -> None:
        secret = target.secret.resolve()
        if not secret:
            raise DeliveryFailed(f"webhook secret missing ({target.secret.describe()})")
        body = msg.body.encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(secret, body, int(time.time())),
            IDEMPOTENCY_HEADER: msg.key,
            "X-GW-Event": msg.kind,
        }
        timeout = aiohttp.ClientTimeout(total=target.timeout)
        async with self._session_now().post(
            target.url, data=body, headers=headers, timeout=timeout
        ) as response:
            text = await response.text(errors="replace")
            if not 200 <= response.status < 300:
                raise DeliveryFailed(f"HTTP {response.status}: {text[:120]}")
            if text.strip():
                try:
                    reply = json.loads(text)
                except ValueError:
                    reason = f"2xx with a reply that is not JSON: {text[:80]!r}"
                    raise DeliveryFailed(reason) from None
                if not isinstance(reply, dict):
                    raise DeliveryFailed("2xx with a JSON reply that is not an object")
