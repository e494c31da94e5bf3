"""PbxDouble: plays Asterisk for the tests and the demo, over real TCP on loopback.

    double = PbxDouble(audiosocket=("127.0.0.1", 9092), users={"gateway": "secret"},
                       cities={"0791110": ("nanchang", "PJSIP/110@nanchang-110")})
    await double.start()                       # double.ami_port is the AMI port
    call = await double.place_call(did="0791110", caller_id="13812345678", audio=pcm)
    await call.wait_for_context("route-12345", timeout=5)
    await double.stop()

The dialplan subset it runs is documented in :mod:`gateway.pbx_double.calls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import wave
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.ami.protocol import Pairs
from gateway.logs import get_logger
from gateway.pbx_double import dialect as d
from gateway.pbx_double.ami_server import AmiServer, OriginateRequest, ReceivedAction
from gateway.pbx_double.calls import DIAL_STATUSES, SimulatedCall
from gateway.pbx_double.dialect import SimChannel
from gateway.retry import bounded

log = get_logger("gateway.pbx_double")

ORIGINATE_OUTCOMES = ("ANSWER", "BUSY", "NOANSWER", "FAILED")
_ORIGINATE_REASON = {"ANSWER": 4, "BUSY": 5, "NOANSWER": 3, "FAILED": 0}


def load_caller_wav(path: str | Path) -> bytes:
    """PCM of an 8 kHz 16-bit mono WAV, to pass as ``place_call(audio=...)``."""
    with wave.open(str(path), "rb") as wav:
        shape = (wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
        if shape != (8000, 2, 1):
            raise ValueError(
                f"{path}: caller audio must be 8000 Hz, 16-bit, mono; got "
                f"{shape[0]} Hz, {shape[1] * 8}-bit, {shape[2]} channel(s)"
            )
        return wav.readframes(wav.getnframes())


def parse_caller_id(value: str) -> tuple[str, str]:
    """``"Name" <1234>`` → (number, name)."""
    if "<" in value and value.endswith(">"):
        name, _, number = value[:-1].partition("<")
        return number.strip(), name.strip().strip('"')
    return value.strip(), ""


class PbxDouble:
    def __init__(
        self,
        *,
        ami_host: str = "127.0.0.1",
        ami_port: int = 0,
        audiosocket: tuple[str, int] = ("127.0.0.1", 9092),
        users: Mapping[str, str] | None = None,
        cities: Mapping[str, tuple[str, str]] | None = None,
        globals_: Mapping[str, str] | None = None,
        auth_failure_delay: float = 1.0,
        ring_time: float = 0.05,
        noanswer_after: float = 0.2,
        retry_110_after: float = 0.5,
        local_contexts: Sequence[str] = ("survey-dial",),
        trunk_prefix: str = "PJSIP/carrier-in",
    ) -> None:
        """``cities``: DID → (city code, 110 dial string), as configs/gateway.yaml says."""
        self.ami_host = ami_host
        self._ami_port = ami_port
        self.audiosocket = audiosocket
        self.cities = dict(cities or {})
        self.globals: dict[str, str] = dict(globals_ or {})
        self.ring_time = ring_time
        self.noanswer_after = noanswer_after
        self.retry_110_after = retry_110_after
        self.local_contexts = set(local_contexts)
        self.trunk_prefix = trunk_prefix
        self.survey_answers: dict[str, str] = {}
        self.calls: list[SimulatedCall] = []
        users = dict(users or {"gateway": "gateway-secret"})
        self._ami = AmiServer(self, users, auth_failure_delay)
        self._channels: dict[str, SimChannel] = {}
        self._calls_by_channel: dict[str, SimulatedCall] = {}
        self._trunk_outcomes: dict[str, str] = {}
        self._unreachable: set[str] = set()
        self._originate_outcomes: dict[str, str] = {}
        self._sequence = 0
        self._uniqueid_base = int(time.time())
        self._started = time.monotonic()
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> PbxDouble:
        """Cities and their 110 dial strings from a loaded :class:`gateway.settings.Settings`,
        as the shipped extensions_cities.conf has them (gateway.asterisk_trunks)."""
        from gateway.asterisk_trunks import dial_110

        cities = {}
        for code, city in settings.cities.items():
            for did in city.dids:
                cities[did] = (code, dial_110(settings, city.destinations["110"], {}))
        lease = {"GW_LEASE": f"{settings.audiosocket.lease:g}"}
        return cls(cities=cities, globals_={**lease, **kwargs.pop("globals_", {})}, **kwargs)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def start(self) -> None:
        await self._ami.start(self.ami_host, self._ami_port)
        log.info("pbx_double.started", ami_port=self.ami_port)

    @property
    def ami_port(self) -> int:
        return self._ami.port

    async def stop(self) -> None:
        for call in list(self.calls):
            if not call.hung_up:
                call.hangup_by_ami(16)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._ami.stop()

    # -- placing calls ---------------------------------------------------------------------

    async def place_call(
        self,
        *,
        did: str,
        caller_id: str,
        caller_name: str = "",
        audio: bytes | None = None,
        dtmf_script: Sequence[tuple[float, str]] = (),
    ) -> SimulatedCall:
        """A caller dials ``did``; the call runs from ``from-110`` on its own task.

        ``audio``: the caller's 8 kHz 16-bit mono PCM, streamed at real-time pace once
        the AudioSocket leg is up; ``dtmf_script``: (seconds after the leg opens, digit).
        """
        channel = self.new_channel(self.trunk_prefix, context="from-110", exten=did, state=4)
        channel.caller_id_num, channel.caller_id_name = caller_id, caller_name or d.UNKNOWN
        call = SimulatedCall(
            self, channel, ("from-110", did, 1), audio=audio, dtmf_script=dtmf_script
        )
        self._start_call(call)
        return call

    def _start_call(self, call: SimulatedCall) -> None:
        self.calls.append(call)
        self._calls_by_channel[call.name] = call
        self.emit(d.channel_event("Newchannel", call.channel))
        call.task = self.spawn(call.run())

    def new_channel(
        self,
        prefix: str,
        *,
        context: str,
        exten: str,
        state: int,
        linkedid: str | None = None,
        suffix: str = "",
    ) -> SimChannel:
        sequence = self._sequence
        self._sequence += 1
        uniqueid = f"{self._uniqueid_base}.{sequence}"
        channel = SimChannel(
            name=f"{prefix}-{sequence:08x}{suffix}",
            uniqueid=uniqueid,
            linkedid=linkedid or uniqueid,
            context=context,
            exten=exten,
            state=state,
        )
        self._channels[channel.name] = channel
        return channel

    # -- the PBX's state, as AMI sees it ---------------------------------------------------

    def uptime(self) -> int:
        return int(time.monotonic() - self._started)

    def live_channels(self) -> list[SimChannel]:
        return list(self._channels.values())

    def find_channel(self, name: str) -> SimChannel | None:
        return self._channels.get(name)

    def call_for_channel(self, name: str) -> SimulatedCall | None:
        call = self._calls_by_channel.get(name)
        return call if call is not None and not call.hung_up else None

    def forget_channel(self, channel: SimChannel) -> None:
        self._channels.pop(channel.name, None)
        self._calls_by_channel.pop(channel.name, None)

    def set_channel_variable(self, channel: SimChannel, variable: str, value: str) -> None:
        if variable == "TIMEOUT(absolute)":  # a function, not a variable: no VarSet
            call = self._calls_by_channel.get(channel.name)
            if call is not None:
                call.set_absolute_timeout(float(value or 0))
            return
        channel.variables[variable] = value
        self.emit(d.varset(channel, variable, value))
        call = self._calls_by_channel.get(channel.name)
        if call is not None:
            call._changed()

    def emit(self, pairs: Pairs) -> None:
        self._ami.broadcast(pairs)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- trunks ----------------------------------------------------------------------------

    def set_trunk_outcome(self, trunk: str, status: str) -> None:
        """What Dial to ``trunk`` (a PJSIP endpoint name) returns: ANSWER, BUSY, NOANSWER, …"""
        if status not in DIAL_STATUSES:
            raise ValueError(f"unknown DIALSTATUS {status!r}; one of {DIAL_STATUSES}")
        self._trunk_outcomes[trunk] = status

    def trunk_outcome(self, trunk: str) -> str:
        if trunk in self._unreachable:
            return "CHANUNAVAIL"
        return self._trunk_outcomes.get(trunk, "ANSWER")

    def set_trunk_reachable(self, trunk: str, reachable: bool) -> None:
        """Qualify result for ``trunk``: a ContactStatus event; unreachable → CHANUNAVAIL."""
        if reachable:
            self._unreachable.discard(trunk)
        else:
            self._unreachable.add(trunk)
        self.emit(d.contact_status(trunk, reachable))

    def read_function(self, expression: str) -> str | None:
        """The dialplan functions Getvar may evaluate without a channel, as Asterisk 22
        answers them for a static trunk contact (func_pjsip_aor, func_pjsip_contact).
        Trunks are Reachable unless set otherwise (the double does not qualify)."""
        name, _, args = expression.partition("(")
        fields = args.rstrip(")").split(",")
        if name == "PJSIP_AOR" and fields[1:] == ["contact"]:
            return f"{fields[0]}@@{abs(hash(fields[0])):032x}"[:64]
        if name == "PJSIP_CONTACT" and fields[1:] == ["status"]:
            trunk = fields[0].split("@@", 1)[0]
            return "Unreachable" if trunk in self._unreachable else "Reachable"
        return None

    # -- originate (follow-up survey calls) ------------------------------------------------

    def set_originate_outcome(self, number: str, outcome: str) -> None:
        """How the callee ``number`` of an Originate behaves: ANSWER, BUSY, NOANSWER, FAILED."""
        if outcome not in ORIGINATE_OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; one of {ORIGINATE_OUTCOMES}")
        self._originate_outcomes[number] = outcome

    def set_survey_answer(self, number: str, digit: str) -> None:
        """The digit the callee presses in the survey ("" = none)."""
        self.survey_answers[number] = digit

    async def originate(self, request: OriginateRequest, *, report: bool) -> bool:
        """Run an Originate; with ``report`` send its OriginateResponse. True if answered."""
        tech, _, rest = request.channel.partition("/")
        number, _, local_context = rest.partition("@")
        if tech == "Local" and local_context in self.local_contexts:
            outcome = self._originate_outcomes.get(number, "ANSWER")
        else:  # unknown technology or a Local channel into a missing context (scenario 12)
            outcome = "FAILED"
        if outcome == "NOANSWER":
            await asyncio.sleep(min(request.timeout_ms / 1000, self.noanswer_after))
        elif outcome != "FAILED":
            await asyncio.sleep(self.ring_time)
        if outcome != "ANSWER":
            if report:
                self.emit(
                    d.originate_response(
                        request.action_id,
                        False,
                        request.channel,
                        request.context,
                        request.exten,
                        _ORIGINATE_REASON[outcome],
                    )
                )
            return False
        channel = self.new_channel(
            f"Local/{rest}",
            context=request.context or "",
            exten=request.exten,
            state=6,
            suffix=";1",
        )
        num, name = parse_caller_id(request.caller_id)
        channel.caller_id_num, channel.caller_id_name = num or d.UNKNOWN, name or d.UNKNOWN
        call = SimulatedCall(self, channel, (request.context, request.exten, request.priority))
        call.number = number
        self.calls.append(call)
        self._calls_by_channel[channel.name] = call
        self.emit(d.channel_event("Newchannel", channel))
        for key, value in request.variables.items():
            self.set_channel_variable(channel, key, value)
        if report:
            self.emit(
                d.originate_response(
                    request.action_id,
                    True,
                    channel.name,
                    request.context,
                    request.exten,
                    4,
                    channel.uniqueid,
                    channel.caller_id_num,
                    channel.caller_id_name,
                )
            )
        if request.context:
            call.task = self.spawn(call.run())
        return True

    # -- test hooks on the AMI side --------------------------------------------------------

    async def drop_ami_connections(self, *, graceful: bool = False) -> int:
        """Abort every AMI session (as if the network dropped); returns how many.

        ``graceful``: close after flushing what was already written (FIN, not RST).
        """
        return self._ami.drop_all(graceful)

    async def set_ami_accepting(self, accepting: bool) -> None:
        """False: refuse new AMI connections (an outage); True: listen again, same port."""
        await self._ami.set_accepting(accepting)

    async def wait_for_action(self, name: str, timeout: float) -> ReceivedAction:
        """The next action called ``name`` that arrives (on any session)."""
        return await bounded(self._ami.wait_for_action(name), timeout, f"AMI action {name}")

    def inject_raw(self, data: bytes) -> None:
        """Write raw bytes to every logged-in AMI session (malformed-input tests)."""
        self._ami.inject_raw(data)

    def swallow_actions(self, *names: str) -> None:
        """Never answer these actions (to test action time-outs); none = answer all again."""
        self._ami.swallow = {n.lower() for n in names}

    def set_ami_silent(self, silent: bool) -> None:
        """A dead peer: read and ignore everything, send nothing, keep TCP open."""
        self._ami.silent = silent

    @property
    def ami_actions(self) -> list[ReceivedAction]:
        """Every action received, in order, with its session number."""
        return self._ami.received

    @property
    def login_attempts(self) -> list[tuple[float, str, bool]]:
        return self._ami.login_attempts

    @property
    def ami_sessions(self) -> int:
        return len(self._ami.sessions)
