"""The AudioSocket TCP server: accepts Asterisk's connections, hands each call (once its
uuid is known) to the handler, and ends every connection cleanly.

A handler ``async def handle(call: AudioSocketCall) -> None`` owns the call while it
runs. It may raise :class:`RejectCall` (unknown uuid, overload ...): the server logs it,
sends 0x00 and closes, and the shipped dialplan takes the caller to 110. If it returns
or crashes with the connection still open, the server does the same. One call's
failure never touches another connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from gateway.audiosocket.call import LOGGER, AudioSocketCall, CloseReason
from gateway.audiosocket.clock import FrameClock
from gateway.logs import get_logger
from gateway.settings import AudioSocketSettings

Handler = Callable[[AudioSocketCall], Awaitable[None]]


class RejectCall(Exception):
    """Raised by a handler to refuse a call (e.g. a uuid no AMI event announced)."""


class AudioSocketServer:
    def __init__(
        self,
        settings: AudioSocketSettings,
        handler: Handler,
        *,
        stop_grace: float = 2.0,
    ) -> None:
        self.settings = settings
        self._handler = handler
        self._stop_grace = stop_grace
        self.clock = FrameClock(settings.frame_ms / 1000)
        self._server: asyncio.Server | None = None
        self._connections: set[AudioSocketCall] = set()
        self._handlers: dict[AudioSocketCall, asyncio.Task[None]] = {}
        self._stopping = False
        self.address: tuple[str, int] | None = None

    @property
    def calls(self) -> list[AudioSocketCall]:
        """Connections whose uuid is known and that are still open."""
        return [c for c in self._connections if c.uuid and not c.closed.is_set()]

    async def start(self) -> tuple[str, int]:
        """Listen on settings.host:port (port 0 picks a free one); returns the bound address."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_connection, self.settings.host, self.settings.port
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        self.address = (host, port)
        get_logger(LOGGER).info("audiosocket.listening", host=host, port=port)
        return self.address

    async def stop(self) -> None:
        """Stop accepting, hang up every call (0x00 then close), let handlers finish."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for call in list(self._connections):
            call.terminate(CloseReason.SERVER_STOPPED)
        closing = [c.closed.wait() for c in self._connections]
        tasks = list(self._handlers.values())
        pending = [asyncio.ensure_future(aw) for aw in closing] + tasks
        if pending:
            _, still = await asyncio.wait(pending, timeout=self._stop_grace)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still)
        self.clock.close()
        if self._server is not None:
            await self._server.wait_closed()
        get_logger(LOGGER).info("audiosocket.stopped")

    def _new_connection(self) -> AudioSocketCall:
        call = AudioSocketCall(
            self.settings, self.clock, on_uuid=self._start_handler, on_finished=self._forget
        )
        self._connections.add(call)
        return call

    def _start_handler(self, call: AudioSocketCall) -> None:
        if self._stopping:
            call.terminate(CloseReason.SERVER_STOPPED)
            return
        self._handlers[call] = asyncio.create_task(
            self._run_handler(call), name=f"audiosocket-{call.uuid}"
        )

    async def _run_handler(self, call: AudioSocketCall) -> None:
        try:
            await self._handler(call)
        except RejectCall as exc:
            call.terminate(CloseReason.REJECTED, str(exc) or "rejected by handler")
        except asyncio.CancelledError:
            call.terminate(CloseReason.SERVER_STOPPED)
            raise
        except Exception as exc:
            get_logger(LOGGER).exception("audiosocket.handler_failed", call_id=call.uuid)
            call.terminate(CloseReason.HANDLER_ERROR, f"{type(exc).__name__}: {exc}")
        else:
            call.terminate(CloseReason.HANDLER_FINISHED, "handler returned with the call open")
        finally:
            self._handlers.pop(call, None)

    def _forget(self, call: AudioSocketCall) -> None:
        self._connections.discard(call)
