"""Simulated channels that run the shipped dialplan's contract (a declared subset).

Contexts simulated (priorities and applications as the contract in docker/asterisk
describes them; AMI events as Asterisk 22 emits them):

* ``from-110``, exten = a city's DID: ``Set(GW_CITY)``, ``Set(GW_110_DIAL)``,
  ``Goto(gateway-in,s,1)``. An unknown DID goes to ``route-110`` (``unknown-did``).
* ``gateway-in,s``: ``Answer``, ``Set(GW_UUID=<uuid4>)``,
  ``UserEvent(GatewayCallStart,Uuid: …,City: …)``, ``TryExec(AudioSocket(uuid,host:port))``
  through the leg (caller audio at 20 ms pace, then silence like transmit_silence=yes),
  under a lease ``TIMEOUT(absolute)=${GW_LEASE}`` that AMI Setvar renews; whenever the
  dialplan continues past it (refused, closed by the gateway, 0x00, inactivity):
  ``Set(GW_IVR_OVER=1)``, ``Set(GW_ROUTE_REASON=gateway-failsafe)``, ``Goto(route-110,s,1)``;
  the lease running out: the ``T`` extension, ``gateway-timeout``, ``route-110``.
* ``route-119|120|12345|mediation,s``: after a fail-safe (``GW_IVR_OVER``) a late Redirect
  goes to ``route-110,late``; else ``Dial(${GW_DEST},30,b(gw-sip-headers^s^1(<route>)))``; the
  outcome per trunk is set with ``PbxDouble.set_trunk_outcome`` (an unreachable trunk
  gives CHANUNAVAIL); when not ANSWER: ``Set(GW_ROUTE_REASON=trunk-${DIALSTATUS})``,
  ``Goto(route-110,s,1)``. An empty GW_DEST counts as CHANUNAVAIL.
* ``route-110,s``: ``Dial(${GW_110_DIAL},,b(gw-sip-headers^s^1(110)))``; when not answered the
  double waits ``retry_110_after`` and dials again (110 is never dropped).
* ``survey,s`` (Originate): ``Playback(survey-question)``, ``Read(GW_SURVEY,,1)`` with the
  digit set by ``PbxDouble.set_survey_answer``, ``UserEvent(SurveyResult,Ticket: …,Result: …)``,
  ``Hangup``.
* An answered Dial stays bridged until the caller hangs up, an AMI Hangup or Redirect.

Not simulated: Local-channel pairs (each call is one PJSIP channel, as from a SIP trunk),
DeviceStateChange/NewCallerid/LocalBridge events, the pre-dial handler's own events (the
SIP headers it would add are recorded in ``SimulatedCall.sip_headers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from gateway.logs import get_logger
from gateway.pbx_double import dialect as d
from gateway.pbx_double.dialect import SimChannel
from gateway.retry import bounded

if TYPE_CHECKING:
    from gateway.pbx_double.double import PbxDouble

log = get_logger("gateway.pbx_double.calls")

Location = tuple[str, str, int]
FRAME_BYTES = 320
FRAME_SECONDS = 0.02
SILENCE = bytes(FRAME_BYTES)
DIAL_STATUSES = ("ANSWER", "BUSY", "NOANSWER", "CHANUNAVAIL", "CONGESTION")
_HANGUP_CAUSE = {
    "BUSY": (17, "User busy"),
    "NOANSWER": (19, "User alerting, no answer"),
    "CONGESTION": (34, "Circuit/channel congestion"),
}
ROUTE_CONTEXTS = ("route-119", "route-120", "route-12345", "route-mediation")


def trunk_of(dial_string: str) -> str:
    """``PJSIP/12345@nanchang-12345`` → ``nanchang-12345``; ``PJSIP/x`` → ``x``;
    ``PJSIP/nanchang-110/sip:110@host`` (an explicit URI) → ``nanchang-110``."""
    target = dial_string.split(",", 1)[0].split("&", 1)[0]
    parts = target.split("/")
    if len(parts) >= 3:
        return parts[1]
    if "@" in target:
        return target.rsplit("@", 1)[1]
    return target.split("/", 1)[-1]


class SimulatedCall:
    """One caller channel walking through the dialplan; the test's handle on it."""

    def __init__(
        self,
        pbx: PbxDouble,
        channel: SimChannel,
        start: Location,
        *,
        audio: bytes | None = None,
        dtmf_script: Sequence[tuple[float, str]] = (),
    ) -> None:
        self.pbx = pbx
        self.channel = channel
        self.start = start
        self.audio = audio or b""
        self.dtmf_script = list(dtmf_script)
        self.number = ""  # the number an Originate dialled (survey calls)
        self.context_history: list[str] = []
        self.dial_attempts: list[tuple[str, str]] = []  # (dial string, DIALSTATUS)
        self.sip_headers: dict[str, str] = {}
        self.leg: Any = None
        self.leg_close_reason: str | None = None
        self.audiosocket_refused = False
        self.hangup_cause: int | None = None
        self.bridged_to: SimChannel | None = None
        self._interrupt: asyncio.Future[tuple[str, Any]] = pbx.loop.create_future()
        self._timeout: asyncio.TimerHandle | None = None  # TIMEOUT(absolute), the lease
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self.task: asyncio.Task[None] | None = None

    # -- what tests look at --------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.channel.name

    @property
    def uniqueid(self) -> str:
        return self.channel.uniqueid

    @property
    def variables(self) -> dict[str, str]:
        return self.channel.variables

    @property
    def uuid(self) -> str | None:
        return self.channel.variables.get("GW_UUID")

    @property
    def context(self) -> str:
        return self.channel.context

    @property
    def hung_up(self) -> bool:
        return self.hangup_cause is not None

    async def wait_for_context(self, context: str, timeout: float) -> None:
        await self._wait(lambda: context in self.context_history, timeout, f"context {context}")

    async def wait_for_leg(self, timeout: float) -> Any:
        await self._wait(lambda: self.leg is not None or self.hung_up, timeout, "AudioSocket leg")
        return self.leg

    async def wait_hung_up(self, timeout: float) -> int:
        await self._wait(lambda: self.hung_up, timeout, "hang-up")
        assert self.hangup_cause is not None
        return self.hangup_cause

    async def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        await self._wait(predicate, timeout, what)

    async def _wait(self, predicate: Callable[[], bool], seconds: float, what: str) -> None:
        if predicate():
            return
        future: asyncio.Future[None] = self.pbx.loop.create_future()
        self._waiters.append((predicate, future))
        try:
            await bounded(future, seconds, f"{self.name}: {what}")
        finally:
            self._waiters = [w for w in self._waiters if w[1] is not future]

    def _changed(self) -> None:
        for predicate, future in list(self._waiters):
            if not future.done() and predicate():
                future.set_result(None)

    # -- control (tests, and the AMI actions) --------------------------------------------

    async def hang_up(self) -> None:
        """The caller hangs up (SIP BYE)."""
        self._raise_interrupt("caller", 16)
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self.task)

    def redirect(self, context: str, exten: str, priority: int) -> None:
        self._raise_interrupt("redirect", (context, exten, priority))

    def hangup_by_ami(self, cause: int) -> None:
        self._raise_interrupt("ami-hangup", cause)

    def set_absolute_timeout(self, seconds: float) -> None:
        """TIMEOUT(absolute): 0 disarms; else the channel goes to the T extension then."""
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None
        if seconds > 0:
            self._timeout = self.pbx.loop.call_later(
                seconds, self._raise_interrupt, "timeout", None
            )

    def _raise_interrupt(self, kind: str, arg: Any) -> None:
        if not self._interrupt.done() and not self.hung_up:
            self._interrupt.set_result((kind, arg))

    async def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        """The caller presses a key: DTMFBegin/DTMFEnd on the channel, 0x03 on the leg."""
        if self.hung_up:
            return
        ch = self.channel
        self.pbx.emit(d.channel_event("DTMFBegin", ch, ("Digit", digit), ("Direction", "Received")))
        await asyncio.sleep(duration_ms / 1000)
        self.pbx.emit(
            d.channel_event(
                "DTMFEnd",
                ch,
                ("Digit", digit),
                ("DurationMs", str(duration_ms)),
                ("Direction", "Received"),
            )
        )
        if self.leg is not None and self.leg_close_reason is None:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await self.leg.send_dtmf(digit)

    # -- the dialplan runner -------------------------------------------------------------

    async def run(self) -> None:
        location: Location | None = self.start
        try:
            while location is not None and not self.hung_up:
                location = await self._step(location)
        except Exception:
            log.exception("pbx_double.call_crashed", channel=self.name)
            self._hangup_events(0, "Unknown", request=False)

    async def _step(self, location: Location) -> Location | None:
        context, exten, priority = location
        ch = self.channel
        ch.context, ch.exten, ch.priority = context, exten, priority
        self.context_history.append(context)
        self._changed()
        handler = _CONTEXTS.get(context) or (_route_trunk if context in ROUTE_CONTEXTS else None)
        if handler is None:
            log.warning("pbx_double.no_such_context", context=context)
            self._hangup_events(1, "Unallocated (unassigned) number", request=False)
            return None
        app = asyncio.ensure_future(handler(self, exten))
        either: list[asyncio.Future[Any]] = [app, self._interrupt]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not self._interrupt.done():
            return app.result()
        app.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app
        kind, arg = self._interrupt.result()
        self._interrupt = self.pbx.loop.create_future()
        if kind == "redirect":
            target: Location = arg
            return target
        if kind == "timeout":
            self._timeout = None
            return (context, "T", 1)
        if kind == "ami-hangup":
            self._hangup_events(arg, "Normal Clearing" if arg == 16 else "Unknown", request=True)
        else:  # caller BYE, as captured in scenario 14
            self._caller_bye_events()
        return None

    # -- building blocks used by the contexts --------------------------------------------

    def app(self, priority: int, application: str, data: str) -> None:
        ch = self.channel
        ch.priority, ch.application, ch.app_data = priority, application, data
        self.pbx.emit(d.newexten(ch, application, data))

    def set_var(self, priority: int, variable: str, value: str) -> None:
        self.app(priority, "Set", f"{variable}={value}")
        self.pbx.set_channel_variable(self.channel, variable, value)

    def answer(self, priority: int) -> None:
        self.app(priority, "Answer", "")
        if self.channel.state != 6:
            self.channel.state = 6
            self.pbx.emit(d.channel_event("Newstate", self.channel))

    def _hangup_events(self, cause: int, text: str, *, request: bool) -> None:
        if self.hung_up:
            return
        if request:
            self.pbx.emit(d.channel_event("SoftHangupRequest", self.channel, ("Cause", str(cause))))
        self._finish(cause, text)

    def _caller_bye_events(self) -> None:
        if self.hung_up:
            return
        self.pbx.emit(d.channel_event("HangupRequest", self.channel))
        self.pbx.emit(d.channel_event("SoftHangupRequest", self.channel, ("Cause", "16")))
        self._finish(0, "Unknown")

    def _finish(self, cause: int, text: str) -> None:
        self.pbx.emit(
            d.channel_event("Hangup", self.channel, ("Cause", str(cause)), ("Cause-txt", text))
        )
        self.hangup_cause = cause
        self.pbx.forget_channel(self.channel)
        self._changed()

    async def dial(self, priority: int, dial_string: str, app_data: str) -> str:
        """Dial a trunk; returns DIALSTATUS. ANSWER leaves the call bridged."""
        caller = self.channel
        self.app(priority, "Dial", app_data)
        self.pbx.set_channel_variable(caller, "DIALSTATUS", "")
        status = self.pbx.trunk_outcome(trunk_of(dial_string)) if dial_string else "CHANUNAVAIL"
        self.sip_headers = {
            "X-GW-Ticket": caller.variables.get("GW_TICKET", ""),
            "X-GW-Route": caller.variables.get("GW_ROUTE", ""),
            "X-GW-Category": caller.variables.get("GW_CATEGORY", ""),
        }
        if status == "CHANUNAVAIL":
            return self._dial_done(dial_string, status)
        dest = self.pbx.new_channel(
            f"PJSIP/{trunk_of(dial_string)}",
            context="from-trunk",
            exten="s",
            state=0,
            linkedid=caller.linkedid,
        )
        dest.caller_id_num, dest.caller_id_name = caller.caller_id_num, caller.caller_id_name
        dest.connected_num, dest.connected_name = caller.caller_id_num, caller.caller_id_name
        self.pbx.emit(d.channel_event("Newchannel", dest))
        self.pbx.emit(
            d.event(
                "DialBegin",
                caller.headers(),
                dest.headers("Dest"),
                [("DialString", dial_string.split("/", 1)[-1])],
            )
        )
        dest.state = 5
        self.pbx.emit(d.channel_event("Newstate", dest))
        try:
            await asyncio.sleep(self.pbx.ring_time)
        except asyncio.CancelledError:
            self._drop_dest(dest, 16, "Normal Clearing")
            raise
        if status == "ANSWER":
            dest.state = 6
            self.pbx.emit(d.channel_event("Newstate", dest))
            self.pbx.emit(
                d.event("DialEnd", caller.headers(), dest.headers("Dest"), [("DialStatus", status)])
            )
            self._bridge(dest)
            return self._dial_done(dial_string, status)
        self.pbx.emit(
            d.event("DialEnd", caller.headers(), dest.headers("Dest"), [("DialStatus", status)])
        )
        cause, text = _HANGUP_CAUSE.get(status, (16, "Normal Clearing"))
        self._drop_dest(dest, cause, text)
        return self._dial_done(dial_string, status)

    def _dial_done(self, dial_string: str, status: str) -> str:
        self.pbx.set_channel_variable(self.channel, "DIALSTATUS", status)
        self.dial_attempts.append((dial_string, status))
        self._changed()
        return status

    def _bridge(self, dest: SimChannel) -> None:
        bridge_id = str(uuid.uuid4())
        self.pbx.emit(d.event("BridgeCreate", d.bridge_block(bridge_id, 0)))
        for members, ch in ((1, dest), (2, self.channel)):
            ch.bridge_id = bridge_id
            self.pbx.emit(d.event("BridgeEnter", d.bridge_block(bridge_id, members), ch.headers()))
        self.bridged_to = dest

    def _drop_dest(self, dest: SimChannel, cause: int, text: str) -> None:
        if dest.bridge_id:
            for members, ch in ((1, dest), (0, self.channel)):
                self.pbx.emit(
                    d.event("BridgeLeave", d.bridge_block(dest.bridge_id, members), ch.headers())
                )
                ch.bridge_id = ""
        self.pbx.emit(d.channel_event("Hangup", dest, ("Cause", str(cause)), ("Cause-txt", text)))
        self.pbx.forget_channel(dest)
        if self.bridged_to is dest:
            self.bridged_to = None

    async def stay_bridged(self) -> None:
        """An answered call lasts until someone hangs up (or a Redirect moves it)."""
        dest = self.bridged_to
        try:
            await asyncio.Event().wait()
        finally:
            if dest is not None:
                self._drop_dest(dest, 16, "Normal Clearing")

    # -- AudioSocket ---------------------------------------------------------------------

    async def audiosocket(self, call_uuid: str) -> str:
        """Run AudioSocket(); returns why it ended (refused, eof, hangup-frame, …)."""
        from gateway.pbx_double.audiosocket_leg import AudioSocketLeg

        host, port = self.pbx.audiosocket
        try:
            leg = await AudioSocketLeg.connect(host, port, uuid.UUID(call_uuid))
        except OSError:
            self.audiosocket_refused = True
            self._changed()
            return "refused"
        self.leg = leg
        self._changed()
        helpers = [
            asyncio.ensure_future(self._feed_audio(leg)),
            asyncio.ensure_future(self._play_dtmf_script()),
        ]
        try:
            reason: str = await leg.wait_closed()
            self.leg_close_reason = reason
            return reason
        finally:
            for helper in helpers:
                helper.cancel()
            if self.leg_close_reason is None:  # Redirect/Hangup: Asterisk closes ~1 ms later
                await asyncio.sleep(0.001)
                await leg.close()
                self.leg_close_reason = leg.close_reason or "closed"
            self._changed()

    async def _feed_audio(self, leg: Any) -> None:
        """The caller's audio at real-time pace, then silence (transmit_silence=yes)."""
        loop = self.pbx.loop
        deadline = loop.time()
        offset = 0
        try:
            while True:
                frame = self.audio[offset : offset + FRAME_BYTES] or SILENCE
                offset += FRAME_BYTES
                await leg.send_audio(frame)
                deadline += FRAME_SECONDS
                await asyncio.sleep(max(0.0, deadline - loop.time()))
        except (ConnectionError, OSError, RuntimeError):
            return

    async def _play_dtmf_script(self) -> None:
        start = self.pbx.loop.time()
        for at, digit in sorted(self.dtmf_script):
            await asyncio.sleep(max(0.0, start + at - self.pbx.loop.time()))
            await self.send_dtmf(digit)


# -- the contexts ------------------------------------------------------------------------

ContextHandler = Callable[[SimulatedCall, str], Coroutine[Any, Any, Location | None]]


async def _from_110(call: SimulatedCall, exten: str) -> Location | None:
    city = call.pbx.cities.get(exten)
    if city is None:  # a DID no city claims is still a 110 call (default city's 110)
        call.set_var(1, "GW_CITY", "unknown")
        call.set_var(2, "GW_ROUTE_REASON", "unknown-did")
        default = next(iter(call.pbx.cities.values()), ("", ""))
        call.set_var(3, "GW_110_DIAL", default[1])
        call.app(4, "Goto", "route-110,s,1")
        return ("route-110", "s", 1)
    code, dial_110 = city
    call.set_var(1, "GW_CITY", code)
    call.set_var(2, "GW_110_DIAL", dial_110)
    call.app(3, "Goto", "gateway-in,s,1")
    return ("gateway-in", "s", 1)


async def _gateway_in(call: SimulatedCall, exten: str) -> Location | None:
    if exten == "T":  # the lease ran out (the gateway stopped renewing it)
        call.set_var(1, "GW_IVR_OVER", "1")
        call.set_var(2, "GW_ROUTE_REASON", "gateway-timeout")
        call.app(3, "Goto", "route-110,s,1")
        return ("route-110", "s", 1)
    call.answer(1)
    call_uuid = str(uuid.uuid4())
    call.set_var(2, "GW_UUID", call_uuid)
    city = call.variables.get("GW_CITY", "")
    call.app(3, "UserEvent", f"GatewayCallStart,Uuid: {call_uuid},City: {city}")
    call.pbx.emit(
        d.channel_event(
            "UserEvent",
            call.channel,
            ("UserEvent", "GatewayCallStart"),
            ("Uuid", call_uuid),
            ("City", city),
        )
    )
    lease = call.pbx.globals.get("GW_LEASE", "4")
    call.app(3, "Set", f"TIMEOUT(absolute)={lease}")
    call.set_absolute_timeout(float(lease))
    host, port = call.pbx.audiosocket
    target = f"{call_uuid},{host}:{port}"
    call.app(4, "TryExec", f"AudioSocket({target})")
    call.channel.application, call.channel.app_data = "AudioSocket", target
    reason = await call.audiosocket(call_uuid)
    call.pbx.set_channel_variable(
        call.channel, "TRYSTATUS", "SUCCESS" if reason == "hangup-frame" else "FAILED"
    )
    call.set_var(5, "GW_IVR_OVER", "1")
    call.set_var(6, "GW_ROUTE_REASON", "gateway-failsafe")
    call.app(7, "Goto", "route-110,s,1")
    return ("route-110", "s", 1)


def _route_enter(call: SimulatedCall, route: str) -> None:
    """[gw-route-enter]: the UserEvent every route context sends on entry."""
    fields = (
        ("Uuid", call.variables.get("GW_UUID", "")),
        ("Route", route),
        ("Ticket", call.variables.get("GW_TICKET", "")),
        ("Reason", call.variables.get("GW_ROUTE_REASON", "")),
    )
    call.app(1, "Gosub", f"gw-route-enter,s,1({route})")
    call.set_absolute_timeout(0)  # the gateway's lease ends with its decision
    call.pbx.emit(
        d.channel_event("UserEvent", call.channel, ("UserEvent", "GatewayRoute"), *fields)
    )


async def _route_trunk(call: SimulatedCall, exten: str) -> Location | None:
    if call.variables.get("GW_IVR_OVER") == "1":  # a late Redirect: never diverted
        call.app(1, "GotoIf", "1?route-110,late,1")
        return ("route-110", "late", 1)
    _route_enter(call, call.context.removeprefix("route-"))
    dest = call.variables.get("GW_DEST", "")
    route = call.context.removeprefix("route-")
    status = await call.dial(1, dest, f"{dest},30,b(gw-sip-headers^s^1({route}))")
    if status == "ANSWER":
        await call.stay_bridged()
        return None
    call.set_var(2, "GW_ROUTE_REASON", f"trunk-{status}")
    call.app(3, "Goto", "route-110,s,1")
    return ("route-110", "s", 1)


async def _route_110(call: SimulatedCall, exten: str) -> Location | None:
    if exten == "late":
        call.set_var(1, "GW_ROUTE_REASON", "late-redirect-refused")
        call.app(2, "Goto", "route-110,s,1")
        return ("route-110", "s", 1)
    _route_enter(call, "110")
    dial = call.variables.get("GW_110_DIAL", "")
    status = await call.dial(1, dial, f"{dial},,b(gw-sip-headers^s^1(110))")
    if status == "ANSWER":
        await call.stay_bridged()
        return None
    call.app(2, "Wait", f"{call.pbx.retry_110_after:g}")
    await asyncio.sleep(call.pbx.retry_110_after)
    call.app(3, "Goto", "route-110,s,1")
    return ("route-110", "s", 1)


async def _survey(call: SimulatedCall, exten: str) -> Location | None:
    call.answer(1)
    call.app(2, "Playback", "survey-question")
    call.app(3, "Read", "GW_SURVEY,,1,,,5")
    digit = call.pbx.survey_answers.get(call.number, "1")
    if digit:
        await call.send_dtmf(digit)
    call.pbx.set_channel_variable(call.channel, "GW_SURVEY_DIGIT", digit)
    # The same names as docker/asterisk/extensions.conf [survey] reports.
    result = {"1": "satisfied", "2": "unsatisfied"}.get(digit, "no-input")
    ticket = call.variables.get("GW_TICKET", "")
    call.app(4, "UserEvent", f"SurveyResult,Ticket: {ticket},Result: {result},Digit: {digit}")
    call.pbx.emit(
        d.channel_event(
            "UserEvent",
            call.channel,
            ("UserEvent", "SurveyResult"),
            ("Ticket", ticket),
            ("Result", result),
            ("Digit", digit),
        )
    )
    call.app(5, "Hangup", "")
    call._hangup_events(16, "Normal Clearing", request=True)
    return None


_CONTEXTS: dict[str, ContextHandler] = {
    "from-110": _from_110,
    "gateway-in": _gateway_in,
    "route-110": _route_110,
    "survey": _survey,
}
