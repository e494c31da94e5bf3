"""The double's AMI server: sessions, login, and the actions the gateway uses.

Responses follow the captured dialect byte for byte (see dialect.py). Test hooks:
``swallow`` (action names answered with silence), ``silent`` (a dead peer: nothing is
answered or sent, the TCP connection stays open), ``drop_all()`` (abort every session).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.ami.protocol import MessageParser, Pairs, all_values, encode_message, first
from gateway.logs import get_logger
from gateway.pbx_double import dialect as d

if TYPE_CHECKING:
    from gateway.pbx_double.double import PbxDouble

log = get_logger("gateway.pbx_double.ami")

# Allowed before Login (everything else: "Permission denied").
_PRE_LOGIN = {"login", "logoff", "challenge"}


@dataclass
class ReceivedAction:
    session: int
    name: str
    pairs: Pairs
    at: float = field(default_factory=time.monotonic)


class AmiSession:
    def __init__(
        self,
        server: AmiServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        number: int,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.number = number
        self.username: str | None = None
        self.events_on = False
        self.closed = False
        self.parser = MessageParser()

    @property
    def pbx(self) -> PbxDouble:
        return self.server.pbx

    def send(self, pairs: Pairs) -> None:
        if not self.closed and not self.server.silent:
            self.writer.write(encode_message(pairs))

    def send_event(self, pairs: Pairs) -> None:
        if self.username is not None and self.events_on:
            self.send(pairs)

    def abort(self, graceful: bool = False) -> None:
        self.closed = True
        if graceful:
            self.writer.close()  # flush what was written, then FIN
        else:
            self.writer.transport.abort()  # RST, unsent data lost: a network failure

    async def serve(self) -> None:
        self.writer.write(d.BANNER)
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                for pairs in self.parser.feed(data):
                    await self._action(pairs)
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            self.server.sessions.discard(self)
            self.writer.close()

    async def _action(self, pairs: Pairs) -> None:
        name = first(pairs, "Action")
        action_id = next((v for k, v in pairs if k.lower() == "actionid"), None)
        self.server.record(ReceivedAction(self.number, name, pairs))
        if self.server.silent or name.lower() in self.server.swallow:
            return
        lowered = name.lower()
        if not name:
            self.send(d.error(action_id, "Missing action in request"))
            return
        if self.username is None and lowered not in _PRE_LOGIN:
            self.send(d.error(action_id, d.PERMISSION_DENIED))
            return
        handler = _HANDLERS.get(lowered)
        if handler is None:
            self.send(d.error(action_id, d.unknown_command(name)))
            return
        await handler(self, pairs, action_id)


async def _login(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    username, secret = first(pairs, "Username"), first(pairs, "Secret")
    ok = bool(username) and s.server.users.get(username) == secret
    s.server.login_attempts.append((time.monotonic(), username, ok))
    if not ok:
        await asyncio.sleep(s.server.auth_failure_delay)
        s.send(d.error(aid, d.AUTH_FAILED))
        await s.writer.drain()
        s.closed = True
        s.writer.close()
        return
    s.username = username
    s.events_on = first(pairs, "Events", "on").lower() != "off"
    s.send(d.success(aid, d.AUTH_ACCEPTED))
    local = s.writer.get_extra_info("sockname")
    remote = s.writer.get_extra_info("peername")
    s.send_event(d.fully_booted(s.pbx.uptime()))
    s.send_event(
        d.successful_auth(
            username,
            f"0x{id(s) & 0xFFFFFFFFFFFF:012x}",
            f"{local[0]}/{local[1]}",
            f"{remote[0]}/{remote[1]}",
        )
    )


async def _logoff(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    s.send(d.response("Goodbye", aid, ("Message", d.GOODBYE)))
    await s.writer.drain()
    s.closed = True
    s.writer.close()


async def _ping(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    s.send(d.response("Success", aid, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")))


async def _events(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    s.events_on = first(pairs, "EventMask", "on").lower() != "off"
    s.send(d.response("Success", aid, ("Events", "On" if s.events_on else "Off")))


async def _core_show_channels(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    s.send(d.response("Success", aid, ("EventList", "start"), ("Message", "Channels will follow")))
    channels = s.pbx.live_channels()
    for ch in channels:
        head: Pairs = [("Event", "CoreShowChannel")]
        if aid is not None:
            head.append(("ActionID", aid))
        s.send(
            head
            + ch.headers()
            + [
                ("Application", ch.application),
                ("ApplicationData", ch.app_data),
                ("Duration", ch.duration()),
                ("BridgeId", ch.bridge_id),
            ]
        )
    s.send(_list_complete("CoreShowChannelsComplete", aid, len(channels)))


async def _status(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    s.send(
        d.response(
            "Success", aid, ("EventList", "start"), ("Message", "Channel status will follow")
        )
    )
    channels = s.pbx.live_channels()
    for ch in channels:
        head: Pairs = [("Event", "Status"), ("Privilege", "Call")]
        if aid is not None:
            head.append(("ActionID", aid))
        s.send(head + ch.headers())
    s.send([*_list_complete("StatusComplete", aid, len(channels)), ("Items", str(len(channels)))])


def _list_complete(name: str, aid: str | None, count: int) -> Pairs:
    pairs: Pairs = [("Event", name)]
    if aid is not None:
        pairs.append(("ActionID", aid))
    return [*pairs, ("EventList", "Complete"), ("ListItems", str(count))]


async def _getvar(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    variable, name = first(pairs, "Variable"), first(pairs, "Channel")
    if name:
        channel = s.pbx.find_channel(name)
        if channel is None:
            s.send(d.error(aid, d.NO_SUCH_CHANNEL))
            return
        if variable == "CHANNEL(state)":
            value = d.STATE_DESC.get(channel.state, "Unknown")
        else:
            value = channel.variables.get(variable, "")
    else:
        function = s.pbx.read_function(variable)
        value = s.pbx.globals.get(variable, "") if function is None else function
    s.send(d.response("Success", aid, ("Variable", variable), ("Value", value)))


async def _setvar(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    variable, value, name = first(pairs, "Variable"), first(pairs, "Value"), first(pairs, "Channel")
    if name:
        channel = s.pbx.find_channel(name)
        if channel is None:
            s.send(d.error(aid, d.NO_SUCH_CHANNEL))
            return
        s.send(d.success(aid, "Variable Set"))
        s.pbx.set_channel_variable(channel, variable, value)
        return
    s.pbx.globals[variable] = value
    s.send(d.success(aid, "Variable Set"))


async def _redirect(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    name = first(pairs, "Channel")
    if not name:
        s.send(d.error(aid, d.CHANNEL_NOT_SPECIFIED))
        return
    call = s.pbx.call_for_channel(name)
    if call is None:
        s.send(d.error(aid, d.channel_does_not_exist(name)))
        return
    s.send(d.success(aid, "Redirect successful"))
    call.redirect(
        first(pairs, "Context"), first(pairs, "Exten", "s"), int(first(pairs, "Priority", "1") or 1)
    )


async def _hangup(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    call = s.pbx.call_for_channel(first(pairs, "Channel"))
    if call is None:
        s.send(d.error(aid, d.NO_SUCH_CHANNEL))
        return
    s.send(d.success(aid, "Channel Hungup"))
    call.hangup_by_ami(int(first(pairs, "Cause", "16") or 16))


async def _play_dtmf(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    call = s.pbx.call_for_channel(first(pairs, "Channel"))
    if call is None:
        s.send(d.error(aid, d.CHANNEL_NOT_FOUND))
        return
    s.send(d.success(aid, "DTMF successfully queued"))
    s.pbx.spawn(call.send_dtmf(first(pairs, "Digit")[:1], int(first(pairs, "Duration", "100"))))


async def _user_event(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    s.send(d.success(aid, "Event Sent"))
    body = [(k, v) for k, v in pairs if k.lower() != "action"]
    s.pbx.emit(d.event("UserEvent", body))


async def _command(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    command = first(pairs, "Command").strip()
    if command == "core show version":
        s.send(
            d.response(
                "Success", aid, ("Message", "Command output follows"), ("Output", d.CORE_VERSION)
            )
        )
        return
    words = " ".join(command.split()[:2])
    s.send(
        d.response(
            "Error",
            aid,
            ("Message", "Command output follows"),
            (
                "Output",
                f"No such command '{command}' (type 'core show help {words}' "
                "for other possible commands)",
            ),
        )
    )


async def _originate(s: AmiSession, pairs: Pairs, aid: str | None) -> None:
    channel = first(pairs, "Channel")
    if not channel:
        s.send(d.error(aid, d.CHANNEL_NOT_SPECIFIED))
        return
    request = OriginateRequest(
        channel=channel,
        context=first(pairs, "Context"),
        exten=first(pairs, "Exten", "s"),
        priority=int(first(pairs, "Priority", "1") or 1),
        application=first(pairs, "Application"),
        caller_id=first(pairs, "CallerID"),
        timeout_ms=int(first(pairs, "Timeout", "30000") or 30000),
        variables=dict(v.split("=", 1) for v in all_values(pairs, "Variable") if "=" in v),
        action_id=aid,
    )
    is_async = first(pairs, "Async").lower() in ("true", "yes", "1", "on")
    if is_async:
        s.send(d.success(aid, "Originate successfully queued"))
        s.pbx.spawn(s.pbx.originate(request, report=True))
        return
    answered = await s.pbx.originate(request, report=False)
    if answered:
        s.send(d.success(aid, "Originate successfully queued"))
    else:
        s.send(d.error(aid, "Originate failed"))


@dataclass
class OriginateRequest:
    channel: str
    context: str
    exten: str
    priority: int
    application: str
    caller_id: str
    timeout_ms: int
    variables: dict[str, str]
    action_id: str | None


Handler = Callable[[AmiSession, Pairs, "str | None"], "asyncio.Future[None] | object"]
_HANDLERS = {
    "login": _login,
    "logoff": _logoff,
    "ping": _ping,
    "events": _events,
    "coreshowchannels": _core_show_channels,
    "status": _status,
    "getvar": _getvar,
    "setvar": _setvar,
    "redirect": _redirect,
    "hangup": _hangup,
    "playdtmf": _play_dtmf,
    "userevent": _user_event,
    "command": _command,
    "originate": _originate,
}


class AmiServer:
    def __init__(self, pbx: PbxDouble, users: dict[str, str], auth_failure_delay: float) -> None:
        self.pbx = pbx
        self.users = users
        self.auth_failure_delay = auth_failure_delay
        self.sessions: set[AmiSession] = set()
        self.received: list[ReceivedAction] = []
        self.login_attempts: list[tuple[float, str, bool]] = []
        self.swallow: set[str] = set()
        self.silent = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._count = 0
        self._action_waiters: list[tuple[str, asyncio.Future[ReceivedAction]]] = []
        self.host = "127.0.0.1"

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)
        self.host, self.port = host, self._server.sockets[0].getsockname()[1]

    async def set_accepting(self, accepting: bool) -> None:
        """Stop listening (connections refused) or listen again on the same port."""
        if not accepting and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        elif accepting and self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)

    def record(self, action: ReceivedAction) -> None:
        self.received.append(action)
        for name, future in list(self._action_waiters):
            if name == action.name.lower() and not future.done():
                future.set_result(action)

    async def wait_for_action(self, name: str) -> ReceivedAction:
        future: asyncio.Future[ReceivedAction] = asyncio.get_running_loop().create_future()
        entry = (name.lower(), future)
        self._action_waiters.append(entry)
        try:
            return await future
        finally:
            self._action_waiters.remove(entry)

    def inject_raw(self, data: bytes) -> None:
        for session in list(self.sessions):
            if session.username is not None and not session.closed:
                session.writer.write(data)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._count += 1
        session = AmiSession(self, reader, writer, self._count)
        self.sessions.add(session)
        await session.serve()

    def broadcast(self, pairs: Pairs) -> None:
        for session in list(self.sessions):
            session.send_event(pairs)

    def drop_all(self, graceful: bool = False) -> int:
        sessions = list(self.sessions)
        for session in sessions:
            session.abort(graceful)
        return len(sessions)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.drop_all()
        if server is not None:
            await server.wait_closed()
