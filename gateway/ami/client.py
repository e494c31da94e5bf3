"""The gateway's one AMI client: panoramisk 1.4 wrapped so its known gaps cannot bite.

What panoramisk gives us: its protocol's action/response correlation (ActionID,
EventList lists), its Action encoding and Message type. What we do instead:

* framing: :class:`gateway.ami.protocol.MessageParser` (whole-line UTF-8 decoding, so
  Chinese text split across TCP reads survives; malformed input logged, not fatal);
* connection: our own connect/login/reconnect loop with back-off
  (:class:`gateway.retry.Backoff`), a slow retry after bad credentials, and a rebuild
  of the channel table from CoreShowChannels after every (re)connect;
* keep-alive: our own Ping whose reply is checked; a dead transport is aborted;
* actions: every one bounded (:func:`gateway.retry.bounded`) with typed errors;
  pending actions FAIL when the link drops and are never re-sent (panoramisk would
  replay them on FullyBooted — Originate/Redirect/Hangup/Setvar must not run twice);
* Originate always carries ``Async: true``; its OriginateResponse is matched by ActionID;
* event callbacks are isolated: an exception is logged with the event name.

panoramisk's Manager and CallManager are not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from gateway.ami.channels import Channel, ChannelTable, normalise_uuid
from gateway.ami.errors import AmiError, AmiLoginFailed, AmiNotConnected, AmiTimeout
from gateway.ami.events import (
    AmiEvent,
    ChannelListing,
    ConnectionLost,
    ConnectionUp,
    OriginateResponse,
    VarSet,
    parse_event,
)
from gateway.ami.protocol import MessageParser, Pairs, first
from gateway.logs import get_logger
from gateway.retry import ActionTimeout, Backoff, bounded
from gateway.settings import AmiSettings

log = get_logger("gateway.ami")

EventCallback = Callable[[AmiEvent], Awaitable[None] | None]
DEFAULT_RESYNC_VARIABLES = ("GW_UUID", "GW_CITY", "GW_TICKET", "GW_ROUTE")


@dataclass(frozen=True)
class OriginateResult:
    """The outcome of an async Originate, from its OriginateResponse."""

    action_id: str
    success: bool
    reason: int  # see gateway.ami.events.OriginateReason
    reason_name: str
    channel: str
    uniqueid: str


class _Link(AMIProtocol):
    """panoramisk's protocol with our framing and no replay of pending actions."""

    def __init__(self, client: AmiClient) -> None:
        self.client = client
        self.parser = MessageParser(expect_banner=True)
        self.banner: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.closed = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.factory = self.client
        self.encoding = "utf-8"
        self.log = log  # panoramisk logs through this attribute

    def data_received(self, data: bytes) -> None:
        for pairs in self.parser.feed(data):
            self._deliver(pairs)
        if self.parser.banner is not None and not self.banner.done():
            self.banner.set_result(self.parser.banner)

    def _deliver(self, pairs: Pairs) -> None:
        headers: dict[str, Any] = {}
        for key, value in pairs:
            if key in headers:
                old = headers[key]
                headers[key] = [*old, value] if isinstance(old, list) else [old, value]
            else:
                headers[key] = value
        message = Message(headers)
        message.pairs = pairs
        try:
            self.handle_message(message)
        except Exception:  # a broken message must not kill the link
            log.exception("ami.message_handling_failed", ami_event=first(pairs, "Event"))

    def send_pairs(
        self, headers: Mapping[str, str | Sequence[str]], as_list: bool | None
    ) -> Action:
        action = Action(dict(headers))
        self.send(action, as_list=as_list)  # registers it in self.responses
        return action

    def forget(self, action: Action) -> None:
        self.responses.pop(action.id, None)

    def abort(self, reason: str) -> None:
        if not self.closed:
            log.warning("ami.link_aborted", reason=reason)
            self.closed = True
            if not self.lost.done():
                self.lost.set_result(reason)
            self._fail_pending(reason)
            self.transport.abort()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._fail_pending("closed by the gateway")
            self.transport.close()

    def connection_lost(self, exc: object) -> None:
        pending = self.parser.pending_bytes()
        if pending:
            log.warning("ami.truncated_message", pending_bytes=pending)
        reason = f"connection lost: {exc}" if exc else "connection closed by Asterisk"
        self.closed = True
        self._fail_pending(reason)
        # panoramisk also calls this for a Shutdown event, with the socket still open
        transport = getattr(self, "transport", None)
        if transport is not None and not transport.is_closing():
            transport.abort()
        if not self.banner.done():
            self.banner.set_exception(AmiNotConnected(reason))
        if not self.lost.done():
            self.lost.set_result(reason)

    def _fail_pending(self, reason: str) -> None:
        # panoramisk queues these for replay on FullyBooted; we fail them instead.
        for action in {id(a): a for a in self.responses.values()}.values():
            if not action.future.done():
                action.future.set_exception(
                    AmiNotConnected(f"{action['action']}: {reason}; not re-sent")
                )
        self.responses.clear()


class EventStream:
    """``async for event in client.events()``; a slow reader loses the oldest events."""

    def __init__(self, client: AmiClient, maxsize: int) -> None:
        self._client = client
        self._queue: asyncio.Queue[AmiEvent] = asyncio.Queue(maxsize)
        self.dropped = 0

    def put(self, event: AmiEvent) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            if self.dropped in (1, 100, 10_000):
                log.warning("ami.event_stream_overflow", dropped=self.dropped)
        self._queue.put_nowait(event)

    def __aiter__(self) -> AsyncIterator[AmiEvent]:
        return self

    async def __anext__(self) -> AmiEvent:
        return await self._queue.get()

    async def get(self, timeout: float) -> AmiEvent:
        return await bounded(self._queue.get(), timeout, "next AMI event")

    def close(self) -> None:
        self._client._streams.discard(self)


class AmiClient:
    """Connected, logged-in, self-healing AMI session with typed events and actions."""

    def __init__(
        self,
        settings: AmiSettings,
        *,
        secret: str | None = None,
        events: str = "on",
        resync_variables: Sequence[str] = DEFAULT_RESYNC_VARIABLES,
        tracked_prefixes: tuple[str, ...] = ("GW_",),
    ) -> None:
        self.settings = settings
        self._secret = secret
        self._events = events
        self._resync_variables = tuple(resync_variables)
        self.channels = ChannelTable(tracked_prefixes)
        self._link: _Link | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._callbacks: list[EventCallback] = []
        self._streams: set[EventStream] = set()
        self._uuid_waiters: dict[str, list[asyncio.Future[Channel]]] = {}
        self._originates: dict[str, asyncio.Future[OriginateResponse]] = {}
        self._ids = itertools.count(1)
        self._id_prefix = f"gw-{id(self) & 0xFFFF:04x}"
        self._background: set[asyncio.Task[Any]] = set()
        self.sessions = 0  # successful logins so far
        self.last_error: str | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background; use :meth:`wait_ready` to wait for it."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ami-client")

    async def wait_ready(self, timeout: float) -> None:
        """Wait until logged in and the channel table is rebuilt (AmiTimeout otherwise)."""
        try:
            await bounded(self._ready.wait(), timeout, "AMI login")
        except ActionTimeout:
            raise AmiTimeout(f"AMI login ({self.last_error or 'no answer'})", timeout) from None

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def close(self) -> None:
        task, self._task = self._task, None
        link = self._link
        if link is not None and not link.closed and self.ready:
            with contextlib.suppress(Exception):
                await self._send({"Action": "Logoff"}, seconds=1.0)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._link is not None:
            self._link.close()
        self._ready.clear()
        for pending in list(self._background):
            pending.cancel()

    async def _run(self) -> None:
        backoff = Backoff(self.settings.reconnect_initial, self.settings.reconnect_max)
        delays = backoff.delays()
        while True:
            try:
                await self._session()
                delays = backoff.delays()  # a session that got in resets the back-off
                delay = next(delays)
            except AmiLoginFailed as exc:
                self.last_error = exc.message
                delay = self.settings.login_retry
                log.error(
                    "ami.login_rejected",
                    username=self.settings.username,
                    message=exc.message,
                    retry_in_s=delay,
                )
            except (OSError, ActionTimeout, AmiError) as exc:
                self.last_error = str(exc)
                delay = next(delays)
                log.warning("ami.connect_failed", error=str(exc), retry_in_s=round(delay, 2))
            except Exception as exc:  # a bug must not stop reconnecting
                self.last_error = repr(exc)
                delay = next(delays)
                log.exception("ami.session_crashed", retry_in_s=round(delay, 2))
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.settings.action_timeout
        _, link = await bounded(
            loop.create_connection(lambda: _Link(self), self.settings.host, self.settings.port),
            timeout,
            "AMI connect",
        )
        self._link = link
        try:
            await self._open(link)
            reason = await link.lost
        finally:
            was_ready = self._ready.is_set()
            self._ready.clear()
            self._fail_originates("AMI link lost before OriginateResponse; not re-sent")
            if not link.closed:
                link.close()
        if was_ready:
            log.warning("ami.disconnected", reason=reason)
            self._publish(ConnectionLost(name="ConnectionLost", headers=[], reason=reason))

    async def _open(self, link: _Link) -> None:
        timeout = self.settings.action_timeout
        banner = await bounded(asyncio.shield(link.banner), timeout, "AMI banner")
        secret = self._resolve_secret()
        login = {
            "Action": "Login",
            "Username": self.settings.username,
            "Secret": secret,
            "Events": self._events,
        }
        try:
            await self._send(login, link=link)
        except AmiError as exc:
            raise AmiLoginFailed("Login", exc.message) from None
        log.info("ami.logged_in", banner=banner, username=self.settings.username)
        await self._resync(link)
        self.sessions += 1
        self.last_error = None
        self._ready.set()
        self._spawn(self._keepalive(link))
        self._publish(ConnectionUp(name="ConnectionUp", headers=[], reconnect=self.sessions > 1))

    def _resolve_secret(self) -> str:
        secret = self._secret if self._secret is not None else self.settings.secret.resolve()
        if secret is None:
            where = self.settings.secret.describe()
            raise AmiLoginFailed("Login", f"no AMI secret found ({where})")
        return secret

    async def _resync(self, link: _Link) -> None:
        """Rebuild the channel table so calls in progress are not forgotten."""
        self.channels.begin_resync()
        listing = await self._core_show_channels(link)
        vanished = self.channels.apply_snapshot(listing)
        for channel in vanished:
            log.info("ami.channel_gone_while_disconnected", channel=channel.name)
        for channel in self.channels:
            for variable in self._resync_variables:
                if variable in channel.variables:
                    continue
                try:
                    value = await self._getvar(link, channel.name, variable)
                except AmiError:
                    break  # the channel went away meanwhile
                self.channels.set_variable(channel.uniqueid, variable, value)
                if variable == "GW_UUID" and value:
                    self._wake_uuid_waiters(self.channels.get(channel.uniqueid))
        log.info("ami.channels_resynced", channels=len(self.channels), vanished=len(vanished))

    async def _keepalive(self, link: _Link) -> None:
        while not link.closed:
            await asyncio.sleep(self.settings.ping_interval)
            if link.closed:
                return
            try:
                reply = await self._send(
                    {"Action": "Ping"}, seconds=self.settings.ping_timeout, link=link
                )
                if first(reply.pairs, "Ping") != "Pong":
                    raise AmiError("Ping", f"unexpected reply {reply.pairs!r}")
            except (AmiTimeout, AmiError) as exc:
                link.abort(f"keep-alive failed: {exc}")
                return
            except AmiNotConnected:
                return

    # -- events ------------------------------------------------------------------------

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` for every typed event; returns an unsubscribe function.

        Async callbacks run as tasks; any exception is logged, never propagated.
        """
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def events(self, maxsize: int = 10_000) -> EventStream:
        stream = EventStream(self, maxsize)
        self._streams.add(stream)
        return stream

    def dispatch(self, message: Message) -> None:
        """Called by the protocol for every event that is not part of an action's reply."""
        event = parse_event(message.pairs)
        channel = self.channels.apply(event)
        if isinstance(event, VarSet) and event.variable == "GW_UUID" and channel is not None:
            self._wake_uuid_waiters(channel)
        if isinstance(event, OriginateResponse):
            waiter = self._originates.pop(event.action_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(event)
        self._publish(event)

    def _publish(self, event: AmiEvent) -> None:
        for callback in list(self._callbacks):
            try:
                result = callback(event)
            except Exception:
                log.exception("ami.callback_failed", ami_event=event.name, callback=repr(callback))
                continue
            if asyncio.iscoroutine(result):
                self._spawn(result, what=f"callback for {event.name}")
        for stream in list(self._streams):
            stream.put(event)

    def _spawn(self, coro: Any, what: str = "") -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(lambda t: self._reap(t, what))

    def _reap(self, task: asyncio.Task[Any], what: str) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("ami.callback_failed", what=what, exc_info=task.exception())

    # -- correlation -------------------------------------------------------------------

    async def channel_for_uuid(self, uuid: object, timeout: float) -> Channel:
        """The channel whose GW_UUID is ``uuid`` (the AudioSocket uuid); waits for it."""
        found = self.channels.by_uuid(uuid)
        if found is not None:
            return found
        key = normalise_uuid(uuid)
        waiter: asyncio.Future[Channel] = asyncio.get_running_loop().create_future()
        self._uuid_waiters.setdefault(key, []).append(waiter)
        try:
            return await bounded(waiter, timeout, f"channel with GW_UUID {key}")
        except ActionTimeout as exc:
            raise AmiTimeout(exc.what, timeout) from None
        finally:
            waiters = self._uuid_waiters.get(key, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._uuid_waiters.pop(key, None)

    def _wake_uuid_waiters(self, channel: Channel | None) -> None:
        if channel is None or channel.uuid is None:
            return
        for waiter in self._uuid_waiters.pop(normalise_uuid(channel.uuid), []):
            if not waiter.done():
                waiter.set_result(channel)

    # -- actions -----------------------------------------------------------------------

    async def ping(self) -> float:
        """Round trip in seconds; AmiError if the reply is not Pong."""
        started = time.perf_counter()
        reply = await self._send({"Action": "Ping"})
        if first(reply.pairs, "Ping") != "Pong":
            raise AmiError("Ping", "reply without Pong")
        return time.perf_counter() - started

    async def getvar(self, channel: str | None, variable: str) -> str:
        """Value of a channel (or global, if ``channel`` is None) variable; "" when unset."""
        headers = {"Action": "Getvar", "Variable": variable}
        if channel is not None:
            headers["Channel"] = channel
        reply = await self._send(headers)
        return first(reply.pairs, "Value")

    async def _getvar(self, link: _Link, channel: str, variable: str) -> str:
        headers = {"Action": "Getvar", "Channel": channel, "Variable": variable}
        reply = await self._send(headers, link=link)
        return first(reply.pairs, "Value")

    async def setvar(self, channel: str | None, variable: str, value: str) -> None:
        headers = {"Action": "Setvar", "Variable": variable, "Value": value}
        if channel is not None:
            headers["Channel"] = channel
        await self._send(headers)

    async def redirect(
        self, channel: str, context: str, exten: str = "s", priority: int = 1
    ) -> None:
        await self._send(
            {
                "Action": "Redirect",
                "Channel": channel,
                "Context": context,
                "Exten": exten,
                "Priority": str(priority),
            }
        )

    async def hangup(self, channel: str, cause: int = 16) -> None:
        await self._send({"Action": "Hangup", "Channel": channel, "Cause": str(cause)})

    async def user_event(self, name: str, fields: Mapping[str, str] | None = None) -> None:
        await self._send({"Action": "UserEvent", "UserEvent": name, **(fields or {})})

    async def core_show_channels(self) -> list[ChannelListing]:
        return await self._core_show_channels(None)

    async def _core_show_channels(self, link: _Link | None) -> list[ChannelListing]:
        replies = await self._send({"Action": "CoreShowChannels"}, as_list=None, link=link)
        listing = []
        for message in replies[1:] if isinstance(replies, list) else []:
            event = parse_event(message.pairs)
            if isinstance(event, ChannelListing):
                listing.append(event)
        return listing

    async def originate(
        self,
        channel: str,
        *,
        context: str,
        exten: str = "s",
        priority: int = 1,
        caller_id: str | None = None,
        timeout_ms: int = 30_000,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
    ) -> OriginateResult:
        """Async Originate into ``context``; waits for its OriginateResponse.

        Raises AmiError if Asterisk refuses the request, AmiTimeout/AmiNotConnected if
        the result never comes (it is then unknown, and the Originate is NOT re-sent).
        """
        headers: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
            "Timeout": str(timeout_ms),
            "Async": "true",  # without it panoramisk 1.4 mis-parses the reply
        }
        if caller_id is not None:
            headers["CallerID"] = caller_id
        if channel_id is not None:
            headers["ChannelId"] = channel_id
        if variables:
            headers["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        action_id = self._next_id()
        waiter: asyncio.Future[OriginateResponse] = asyncio.get_running_loop().create_future()
        self._originates[action_id] = waiter
        try:
            await self._send(headers, action_id=action_id)
            limit = timeout_ms / 1000 + self.settings.action_timeout
            try:
                event = await bounded(waiter, limit, f"OriginateResponse to {channel}")
            except ActionTimeout as exc:
                raise AmiTimeout(exc.what, limit) from None
        finally:
            self._originates.pop(action_id, None)
        return OriginateResult(
            action_id=action_id,
            success=event.success,
            reason=event.reason,
            reason_name=event.reason_name,
            channel=event.channel_name,
            uniqueid=event.uniqueid,
        )

    def _fail_originates(self, reason: str) -> None:
        for waiter in self._originates.values():
            if not waiter.done():
                waiter.set_exception(AmiNotConnected(reason))

    def _next_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    async def _send(
        self,
        headers: Mapping[str, str | Sequence[str]],
        *,
        seconds: float | None = None,
        as_list: bool | None = False,
        link: _Link | None = None,
        action_id: str | None = None,
    ) -> Any:
        """Send one action on the live link; returns the reply (a list for EventLists)."""
        name = str(headers["Action"])
        link = link or (self._link if self._ready.is_set() else None)
        if link is None or link.closed:
            raise AmiNotConnected(f"{name}: AMI is not connected")
        for key, value in headers.items():
            for item in [value] if isinstance(value, str) else value:
                if "\r" in item or "\n" in item:
                    raise ValueError(f"AMI header {key} contains a line break")
        action = link.send_pairs({**headers, "ActionID": action_id or self._next_id()}, as_list)
        seconds = seconds or self.settings.action_timeout
        try:
            reply = await bounded(action.future, seconds, f"AMI {name}")
        except ActionTimeout:
            link.forget(action)
            log.warning("ami.action_timeout", action=name, seconds=seconds)
            raise AmiTimeout(f"AMI {name}", seconds) from None
        head = reply[0] if isinstance(reply, list) else reply
        if first(head.pairs, "Response") == "Error":
            raise AmiError(name, first(head.pairs, "Message"))
        return reply
