"""One call through the IVR: audio and AMI in, dialog decisions out, hand-off at the end.

The session is the only place where the pure parts (dialog, triage, routing policy)
meet the edges (AudioSocket, AMI, ASR, store). Its one safety promise: whatever goes
wrong here, the call leaves with the caller on a line — a failed hand-off or any
exception sends the AudioSocket hang-up frame, and the shipped dialplan then takes
the caller to 110 (``gateway-in`` continues past AudioSocket into ``route-110``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.lease import CallLease
from gateway.logs import get_logger, mask_number, mask_numbers_in_text
from gateway.retry import ActionTimeout
from gateway.routing import Destination, RoutingPolicy
from gateway.trunks import TrunkBoard
from gateway.vad import EnergyDetector

AUDIO_CLOSE_GRACE = 1.0  # seconds to wait for AMI's Hangup after the socket closes
TRANSCRIPT_VAR_MAX = 600  # bytes of the percent-encoded transcript in GW_TRANSCRIPT
REDIRECT_CLOSE_WAIT = 2.0  # Asterisk closes the socket ~1 ms after a Redirect


def encode_transcript(text: str, limit: int = TRANSCRIPT_VAR_MAX) -> str:
    """Percent-encode UTF-8 (safe in a channel variable and a SIP header), whole characters only."""
    out: list[str] = []
    size = 0
    for char in text:
        piece = urllib.parse.quote(char, safe="")
        if size + len(piece) > limit:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


@dataclass
class CallInfo:
    """What AMI told us about the call before the IVR starts."""

    call_id: str  # the AudioSocket uuid, also the call's id everywhere
    channel: str
    city: str | None
    caller: str
    did: str = ""
    answered_at: float = field(default_factory=time.time)


@dataclass
class HandOff:
    """The outcome of a session, for the demo, statistics and tests."""

    destination: Destination | None
    ticket_id: str | None
    transcript: str
    reason: str
    decided_after: float  # seconds from answer to decision
    redirect_latency: float | None  # decision → Redirect acknowledged
    failsafe: bool = False
    callback: bool = False
    evidence: str = ""
    # from the arrival of the event that decided (a partial, a final, a key) to the
    # Redirect acknowledged: the gateway's own share of the time to route
    event_to_redirect: float | None = None


class Recorder(Protocol):
    """What the session needs from the state store (all calls bounded; may raise)."""

    async def append_call_event(self, call_id: str, kind: str, data: dict[str, Any]) -> None: ...


class AudioLeg(Protocol):
    uuid: str

    def incoming(self) -> Any: ...
    async def play(self, pcm: bytes) -> bool: ...
    def stop_playback(self) -> object: ...
    async def hangup(self) -> None: ...


EmitFn = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class CallSession:
    """Runs one call's IVR to its hand-off. Create one per AudioSocket connection."""

    def __init__(
        self,
        *,
        info: CallInfo,
        audio: AudioLeg,
        dialog: Any,  # ivr.dialog.Dialog
        dialog_events: Any,  # the ivr.dialog module (event classes)
        prompts: Callable[[str], bytes | None],
        ami: Any,  # gateway.ami client: setvar / redirect
        policy: RoutingPolicy,
        trunks: TrunkBoard,
        speech: Any | None,  # an open recognition stream, or None (keypad path)
        tickets: Any,  # gateway.call_records.CallRecords
        vad: EnergyDetector,
        hangups: asyncio.Event,
        lease: CallLease,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.info = info
        self._audio = audio
        self._dialog = dialog
        self._ev = dialog_events
        self._prompts = prompts
        self._ami = ami
        self._policy = policy
        self._trunks = trunks
        self._speech = speech
        self._tickets = tickets
        self._vad = vad
        self._hangups = hangups
        self._lease = lease
        self._clock = clock
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._started = clock()
        self._playback: asyncio.Task[None] | None = None
        self._event_at = clock()
        self._keys: list[tuple[str, float]] = []  # every key pressed, with its arrival time
        self._log = get_logger("call", call_id=info.call_id)
        self.outcome: HandOff | None = None

    # -- the loop -------------------------------------------------------------------

    async def run(self) -> HandOff:
        producers = [
            asyncio.create_task(self._read_audio(), name=f"audio-{self.info.call_id}"),
            asyncio.create_task(self._watch_hangup(), name=f"hangup-{self.info.call_id}"),
        ]
        if self._speech is not None:
            producers.append(asyncio.create_task(self._read_speech()))
        try:
            self._record("answered", city=self.info.city, caller=mask_number(self.info.caller))
            first = self._ev.Started(now=self._now())
            if self._speech is None:
                await self._handle(self._ev.AsrUnavailable(now=self._now()))
            await self._handle(first)
            while self.outcome is None:
                event = await self._next_event()
                self._event_at = self._clock()
                await self._handle(event)
        except Exception:
            self._log.exception("session failed; leaving the call to the dialplan fail-safe")
            await self._failsafe("gateway-error")
        finally:
            self._lease.release()
            for task in producers:
                task.cancel()
            self._stop_playback()
            if self._speech is not None:
                with contextlib.suppress(Exception):
                    await self._speech.close()
        assert self.outcome is not None
        return self.outcome

    def _now(self) -> float:
        return self._clock() - self._started

    async def _next_event(self) -> Any:
        deadline = self._dialog.next_deadline
        if deadline is None:
            return await self._queue.get()
        timeout = max(0.0, deadline - self._now())
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return self._ev.Tick(now=max(self._now(), deadline))

    async def _handle(self, event: Any) -> None:
        if isinstance(event, tuple) and event[0] == "audio-closed":
            await self._audio_closed()
            return
        for command in self._dialog.handle(event):
            await self._execute(command)
            if self.outcome is not None:
                return

    # -- producers --------------------------------------------------------------------

    async def _read_audio(self) -> None:
        async for item in self._audio.incoming():
            digit = getattr(item, "digit", None)
            if digit is not None:
                self._keys.append((digit, self._clock()))
                self._record("dtmf", digit=digit)
                self._queue.put_nowait(self._ev.Dtmf(digit=digit, now=self._now()))
                continue
            pcm = item.pcm
            change = self._vad.update(pcm)
            if change is True:
                self._queue.put_nowait(self._ev.SpeechStarted(now=self._now()))
            elif change is False:
                self._queue.put_nowait(self._ev.SpeechStopped(now=self._now()))
            if self._speech is not None:
                self._speech.feed(pcm)
        # The socket closed under us: the caller hung up, or Asterisk moved the call.
        self._queue.put_nowait(("audio-closed", self._now()))

    async def _read_speech(self) -> None:
        last_partial = ""
        try:
            async for result in self._speech.results():  # type: ignore[union-attr]
                if not result.text:
                    continue
                if result.kind == "partial":
                    self._queue.put_nowait(self._ev.Partial(text=result.text, now=self._now()))
                    if result.text != last_partial:
                        self._record("partial", text=result.text)
                        last_partial = result.text
                else:
                    self._record("final", text=result.text, confidence=result.confidence)
                    self._queue.put_nowait(
                        self._ev.Final(
                            text=result.text, confidence=result.confidence, now=self._now()
                        )
                    )
        except Exception:
            self._log.exception("speech recognition failed mid-call; keypad path")
            self._queue.put_nowait(self._ev.AsrUnavailable(now=self._now()))

    async def _audio_closed(self) -> None:
        """The socket closed while the IVR ran: a hang-up, or Asterisk ended AudioSocket.

        AMI tells which (a Hangup event for the channel). Without one, the dialplan has
        the call and its fail-safe continues to route-110.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(AUDIO_CLOSE_GRACE):
                await self._hangups.wait()
        if self._hangups.is_set() or not self._channel_alive():
            await self._handle(self._ev.CallerHungUp(now=self._now()))
            if self.outcome is None:
                await self._raise_callback(None)
            return
        self._log.warning("audiosocket closed without a hang-up; dialplan fail-safe has the call")
        await self._failsafe("audiosocket-lost")

    def _channel_alive(self) -> bool:
        """Is the caller still there? Unsure (AMI down) counts as gone: a needless call-back
        costs a call-taker a minute, a missed one may cost a life."""
        if not getattr(self._ami, "ready", False):
            return False
        return self._ami.channels.by_name(self.info.channel) is not None

    async def _watch_hangup(self) -> None:
        await self._hangups.wait()
        self._queue.put_nowait(self._ev.CallerHungUp(now=self._now()))

    # -- commands -----------------------------------------------------------------------

    async def _execute(self, command: Any) -> None:
        kind = type(command).__name__
        if kind == "Play":
            self._start_playback(command.prompt_id)
        elif kind == "StopPlayback":
            self._stop_playback()
        elif kind == "Route":
            await self._hand_off(command)
        elif kind == "RaiseCallback":
            await self._raise_callback(command)
        elif kind == "Log":
            self._log.info("dialog", kind=command.kind, **_loggable(command.data))
            self._record(command.kind, **_loggable(command.data))

    def _start_playback(self, prompt_id: str) -> None:
        self._stop_playback()
        pcm = self._prompts(prompt_id)
        if pcm is None:
            self._log.warning("prompt audio missing", prompt=prompt_id)
            self._queue.put_nowait(self._ev.PromptFinished(prompt_id=prompt_id, now=self._now()))
            return
        self._playback = asyncio.create_task(self._play(prompt_id, pcm))

    async def _play(self, prompt_id: str, pcm: bytes) -> None:
        completed = await self._audio.play(pcm)
        if completed:
            self._queue.put_nowait(self._ev.PromptFinished(prompt_id=prompt_id, now=self._now()))

    def _stop_playback(self) -> None:
        if self._playback is not None and not self._playback.done():
            self._audio.stop_playback()
            self._playback.cancel()
        self._playback = None

    async def _hand_off(self, route: Any) -> None:
        decided_after = self._now()
        self._stop_playback()
        transcript = route.transcript or ""
        destination, ticket_id = await self._tickets.prepare_hand_off(
            info=self.info,
            route=route.route,
            category=route.category,
            confidence=route.confidence,
            reason=route.reason,
            transcript=transcript,
            triage=route.triage,
            wanted_route=route.wanted_route,
        )
        if destination.diverted and self._late_emergency_key():
            destination = self._policy.to_110(
                self.info.city,
                destination.category,
                "key pressed during the hand-off",
                destination.route,
            )
        if not self._lease.fresh():
            # We were frozen (or AMI lagged) past the lease: Asterisk may already have
            # taken the caller to 110. A Redirect now could pull them away from a 110
            # call-taker; leave the call to the dialplan.
            self._log.error("lease stale at hand-off; the dialplan has the caller")
            await self._tickets.hand_off_failed(self.info, ticket_id, "lease expired")
            await self._failsafe("lease-expired", destination=destination, ticket_id=ticket_id)
            return
        self._lease.release()  # no renewal may follow the Redirect
        variables = {
            "GW_TICKET": ticket_id or "",
            "GW_ROUTE": destination.route,
            "GW_CATEGORY": destination.category,
            "GW_CONFIDENCE": f"{route.confidence:.2f}",
            "GW_DEST": destination.dial,
            "GW_ROUTE_REASON": route_reason(route, destination)[:200],
            # numbers masked: channel variables show in `core show channel` and VarSet
            # events; the full words stay in the expiring call record
            "GW_TRANSCRIPT": encode_transcript(mask_numbers_in_text(transcript)),
        }
        requested = self._clock()
        try:
            await asyncio.gather(
                *(self._ami.setvar(self.info.channel, k, v) for k, v in variables.items())
            )
            await self._ami.redirect(self.info.channel, destination.context)
        except Exception as exc:
            self._log.error("hand-off failed; dialplan fail-safe to 110", error=str(exc))
            await self._tickets.hand_off_failed(self.info, ticket_id, str(exc))
            if self._hangups.is_set() or not self._channel_alive():
                await self._raise_callback(None)  # e.g. "救命" and the line dropped
                return
            if isinstance(exc, ActionTimeout):
                # a Redirect that timed out may still run: let it close the socket first,
                # rather than race it with the hang-up frame
                await self._await_socket_closed()
            await self._failsafe("redirect-failed", destination=destination, ticket_id=ticket_id)
            return
        acknowledged = self._clock()
        latency = acknowledged - requested
        await self._await_socket_closed()
        if destination.trunk:
            self._trunks.call_placed(destination.trunk, self.info.channel)
        evidence = route.triage.explain() if route.triage is not None else ""
        self.outcome = HandOff(
            destination=destination,
            ticket_id=ticket_id,
            transcript=transcript,
            reason=route.reason,
            decided_after=decided_after,
            redirect_latency=latency,
            evidence=evidence,
            event_to_redirect=acknowledged - self._event_at,
        )
        self._log.info(
            "call handed off",
            route=destination.route,
            category=destination.category,
            context=destination.context,
            reason=destination.reason,
            ticket=ticket_id,
            redirect_ms=round(latency * 1000, 1),
        )
        await self._tickets.handed_off(self.info, ticket_id, destination, latency, decided_after)

    def _late_emergency_key(self) -> bool:
        """Did the caller press an emergency key after the event that decided the diversion?
        (The dialog has finished and would ignore it.)"""
        keys = set(getattr(getattr(self._dialog, "config", None), "emergency_keys", ("1", "0")))
        return any(digit in keys and at >= self._event_at for digit, at in self._keys)

    async def _await_socket_closed(self) -> None:
        """After a Redirect, let Asterisk close the socket: a hang-up frame sent now
        could race the Redirect into the fail-safe."""
        closed = getattr(self._audio, "closed", None)
        if closed is None:
            return
        try:
            async with asyncio.timeout(REDIRECT_CLOSE_WAIT):
                await closed.wait()
        except TimeoutError:
            self._log.warning("socket still open after Redirect", wait_s=REDIRECT_CLOSE_WAIT)

    async def _raise_callback(self, command: Any | None) -> None:
        transcript = getattr(command, "transcript", "") or getattr(self._dialog, "transcript", "")
        self.outcome = HandOff(
            destination=None,
            ticket_id=None,
            transcript=transcript,
            reason=getattr(command, "reason", "caller-hung-up"),
            decided_after=self._now(),
            redirect_latency=None,
            callback=True,
        )
        await self._tickets.callback(self.info, transcript, self.outcome.reason)

    async def _failsafe(
        self, reason: str, *, destination: Destination | None = None, ticket_id: str | None = None
    ) -> None:
        """Send the hang-up frame: AudioSocket() returns and the dialplan goes to route-110."""
        self._lease.release()  # a renewal after this would re-arm a timeout in route-110
        self._record("failsafe", reason=reason, transcript=getattr(self._dialog, "transcript", ""))
        with contextlib.suppress(Exception):
            await self._audio.hangup()
        self.outcome = HandOff(
            destination=destination,
            ticket_id=ticket_id,
            transcript=getattr(self._dialog, "transcript", ""),
            reason=reason,
            decided_after=self._now(),
            redirect_latency=None,
            failsafe=True,
        )

    def _record(self, kind: str, **data: Any) -> None:
        """Queued for the store's writer: a slow or dead Redis never delays the call."""
        self._tickets.record(self.info.call_id, kind, data)


def route_reason(route: Any, destination: Destination) -> str:
    """Why, in one line: the dialog's reason, the triage rule, the routing policy's reason."""
    parts = [route.reason, getattr(route.triage, "rule", ""), destination.reason]
    return "; ".join(p for p in parts if p)


def _loggable(data: Any) -> dict[str, Any]:
    if isinstance(data, dict):
        return {str(k): v for k, v in data.items() if k not in ("event",)}
    return {"data": str(data)}
