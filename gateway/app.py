"""The composition root: reads the config and wires the edges to the decisions.

Asterisk ──AMI──────────► AmiClient ──events──► channel table, trunk board, records
         ──AudioSocket──► AudioSocketServer ──► CallSession (one per call)
                                                 ├─ Dialog (ivr, pure)
                                                 ├─ Triage (ivr, pure)
                                                 ├─ RoutingPolicy (pure)
                                                 ├─ speech stream (Vosk, off-loop)
                                                 └─ CallRecords → TicketStore (Redis)
TicketStore ──► OutboxWorker (webhooks), LoopKeeper (SLA sweep, surveys), web app
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from gateway.ami import AmiClient, AmiFailure
from gateway.ami import events as ami_events
from gateway.audiosocket import AudioSocketCall, AudioSocketServer
from gateway.audiosocket.server import RejectCall
from gateway.call_records import CallRecords
from gateway.call_session import CallInfo, CallSession, HandOff
from gateway.lease import CallLease, CallLeases
from gateway.logs import get_logger, mask_number
from gateway.loop_monitor import LoopLagMonitor
from gateway.outbox.worker import OutboxWorker
from gateway.routing import RoutingPolicy
from gateway.settings import DIVERTED_ROUTES, Settings, resolve_path
from gateway.store import LoopKeeper, TicketStore
from gateway.trunks import TrunkBoard
from gateway.vad import EnergyDetector
from gateway.web.app import create_app
from ivr import dialog_messages
from ivr.dialog import Dialog
from ivr.prompts import load_all_prompt_audio, load_prompt_catalog
from ivr.triage import Triage, TriageResult, load_triage

_log = get_logger("gateway")

UUID_WAIT = 2.0  # seconds to wait for AMI to announce an AudioSocket uuid
LEASE_GRACE = 10.0  # seconds past the IVR budget before a stuck session loses its lease
SpeechFactory = Callable[[CallInfo], Any]


class SurveyDialer:
    """The loop keeper's Originator, over AMI: dial the caller into the survey context."""

    def __init__(self, ami: AmiClient, local_context: str = "survey-dial") -> None:
        self._ami = ami
        self._local_context = local_context

    async def originate(self, number: str, context: str = "survey", variables: Any = None) -> bool:
        try:
            result = await self._ami.originate(
                f"Local/{number}@{self._local_context}",
                context=context,
                variables=dict(variables or {}),
                timeout_ms=30_000,
            )
        except AmiFailure as exc:
            _log.warning("survey call not placed", error=str(exc))
            return False
        return bool(result.success)


class Gateway:
    """Owns every edge; ``start()`` then calls flow until ``stop()``."""

    def __init__(
        self,
        settings: Settings,
        *,
        ami_secret: str | None,
        speech: SpeechFactory | None = None,
        on_hand_off: Callable[[CallInfo, HandOff], None] | None = None,
        serve_http: bool = True,
        local_time: Callable[[], time] | None = None,
    ) -> None:
        self.settings = settings
        zone = ZoneInfo(settings.timezone)
        self.local_time = local_time or (lambda: datetime.now(zone).time())
        self._speech = speech
        self._on_hand_off = on_hand_off
        self._serve_http = serve_http
        self._apply_decisions(settings)
        self.trunks = TrunkBoard(
            {t.endpoint: name for name, t in settings.trunks.items() if t.endpoint}
        )
        self.store = TicketStore.from_settings(settings)
        self.records = CallRecords(self.store, self.policy, self.trunks, self.local_time)
        self.ami = AmiClient(settings.ami, secret=ami_secret)
        self.audiosocket = AudioSocketServer(settings.audiosocket, self._on_call)
        self.outbox = OutboxWorker(self.store, settings.webhooks)
        self.keeper = LoopKeeper(self.store, settings.loop, SurveyDialer(self.ami))
        self.leases = CallLeases(
            self.ami, lease=settings.audiosocket.lease, every=settings.audiosocket.lease_renewal
        )
        self._hangups: dict[str, asyncio.Event] = {}
        self._sessions: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self.http_port: int | None = None
        self.loop_lag = LoopLagMonitor()
        self.trunk_health_read = asyncio.Event()  # set after each session's first reading

    def _apply_decisions(self, settings: Settings) -> None:
        """Load everything a call's decisions use; raises before changing anything."""
        triage: Triage = load_triage(resolve_path(settings.triage.rules[settings.ivr.language]))
        catalog = load_prompt_catalog(
            resolve_path(settings.ivr.prompts_file), resolve_path(settings.ivr.prompts_dir)
        )
        audio = load_all_prompt_audio(resolve_path(settings.ivr.prompts_dir), catalog)
        self.settings, self.triage, self.catalog, self.prompt_audio = (
            settings,
            triage,
            catalog,
            audio,
        )
        self.policy = RoutingPolicy(settings)

    async def reload(self, settings: Settings) -> None:
        """Apply a new config to calls that start from now on; live calls keep theirs.

        Cities, trunks, IVR, triage rules and prompts change at once. Connection settings
        (AMI, AudioSocket, Redis, HTTP) need a restart: a change there is logged, not applied.
        """
        needs_restart = [
            name
            for name in ("ami", "audiosocket", "redis", "http")
            if getattr(settings, name) != getattr(self.settings, name)
        ]
        self._apply_decisions(
            settings.model_copy(
                update={name: getattr(self.settings, name) for name in needs_restart}
            )
        )
        self.records.policy = self.policy
        self.trunks.endpoints = {
            t.endpoint: name for name, t in settings.trunks.items() if t.endpoint
        }
        _log.info(
            "config reloaded", cities=len(settings.cities), not_applied_until_restart=needs_restart
        )

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self.loop_lag.start()
        self.records.start()
        self.leases.start()
        self.ami.subscribe(self._on_ami_event)
        await self.ami.start()
        host, port = await self.audiosocket.start()
        await self.outbox.start()
        await self.keeper.start()
        if self._serve_http:
            await self._start_http()
        _log.info("gateway started", audiosocket=f"{host}:{port}", http_port=self.http_port)

    async def _start_http(self) -> None:
        app = create_app(
            self.settings, self.store, keeper=self.keeper, trunk_health=self.trunk_health
        )
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http.host, self.settings.http.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else self.settings.http.port

    async def stop(self) -> None:
        await self.audiosocket.stop()
        for task in list(self._sessions):
            task.cancel()
        await self.keeper.stop()
        await self.leases.stop()
        await self.outbox.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.ami.close()
        await self.records.stop()
        await self.store.close()
        await self.loop_lag.stop()

    def trunk_health(self) -> dict[str, dict[str, Any]]:
        snapshot = self.trunks.snapshot()
        words = {True: "up", False: "down", None: "unknown"}
        return {
            name: {
                "status": words[snapshot[name].reachable if name in snapshot else None],
                "active_calls": snapshot[name].active_calls if name in snapshot else 0,
                "max_calls": trunk.max_calls,
                "hours": trunk.hours,
            }
            for name, trunk in self.settings.trunks.items()
        }

    # -- AMI events -------------------------------------------------------------------

    async def _on_ami_event(self, event: ami_events.AmiEvent) -> None:
        match event:
            case ami_events.Hangup():
                self._channel_hung_up(event)
            case ami_events.DialEnd(caller=ami_events.ChannelSnapshot() as caller):
                dialled = event.dest.channel if event.dest is not None else ""
                self.records.dial_ended(caller.channel, event.dial_status, dialled)
                if event.dial_status != "ANSWER":
                    self.trunks.call_ended(caller.channel)
            case ami_events.ConnectionUp():
                if event.reconnect:
                    self._reconcile_after_resync()
                await self._read_trunk_health()
            case ami_events.ConnectionLost():
                self.trunks.forget_health()
            case ami_events.TrunkStatus(reachable=bool(reachable)):
                await self._trunk_health_changed(event.endpoint, reachable)
            case ami_events.UserEvent(user_event="GatewayRoute"):
                await self._route_entered(dict(event.fields))
            case ami_events.UserEvent(user_event="Gateway110Attempt"):
                await self._110_attempt(dict(event.fields), event.channel)
            case ami_events.UserEvent(user_event="SurveyResult"):
                await self._survey_result(dict(event.fields))

    def _channel_hung_up(self, event: ami_events.Hangup) -> None:
        name = event.channel.channel
        if name in self._hangups:
            self._hangups[name].set()
        self.trunks.call_ended(name)
        self.records.channel_gone(name, event.cause_txt or str(event.cause))

    async def _read_trunk_health(self) -> None:
        """Every AMI session starts by asking Asterisk what it knows of each trunk."""
        health = await self.trunks.refresh(self.ami, self.settings.ami.action_timeout)
        down = sorted(e for e, up in health.items() if up is False)
        unknown = sorted(e for e, up in health.items() if up is None)
        _log.info("trunk health read", trunks=len(health), down=down, unknown=len(unknown))
        self.trunk_health_read.set()

    async def _trunk_health_changed(self, endpoint: str, reachable: bool) -> None:
        before = self.trunks.health()
        trunk = self.trunks.set_reachable(endpoint, reachable)
        _log.info("trunk health", endpoint=endpoint, trunk=trunk, reachable=reachable)
        if trunk is not None and before.get(trunk) is not None and before[trunk] != reachable:
            await self._alert("trunk-up" if reachable else "trunk-down", {"trunk": trunk})

    async def _route_entered(self, fields: dict[str, str]) -> None:
        """[gw-route-enter]: a handed-off call reaching route-110 from a trunk failure."""
        reason, ticket = fields.get("Reason", ""), fields.get("Ticket", "")
        if fields.get("Route") == "110" and ticket and reason.startswith("trunk-"):
            await self.records.came_back_to_110(ticket, reason)

    async def _110_attempt(
        self, fields: dict[str, str], channel: ami_events.ChannelSnapshot | None
    ) -> None:
        """[route-110] dials again: the 110 line did not answer the previous round."""
        attempt = int(fields.get("Attempt", "1") or 1)
        if attempt < 2:
            return
        city = self.ami.channels.by_name(channel.channel) if channel is not None else None
        detail = {
            "uuid": fields.get("Uuid", ""),
            "attempt": attempt,
            "reason": fields.get("Reason", ""),
            "city": city.variables.get("GW_CITY", "") if city is not None else "",
        }
        _log.error("110 line not answering; the dialplan keeps dialling", **detail)
        if attempt == 2:  # one alert per call; the log line carries every round
            await self._alert("110-not-answering", detail)

    async def _survey_result(self, fields: dict[str, str]) -> None:
        # extensions.conf [survey]: Result satisfied|unsatisfied|no-input|hangup, Digit
        ticket, digit = fields.get("Ticket", ""), fields.get("Digit", "")
        if fields.get("Result") in ("no-input", "hangup"):
            _log.info("survey unanswered; the keeper retries", ticket=ticket)
        elif ticket:
            try:
                await self.keeper.survey_result(ticket, digit)
            except Exception as exc:
                _log.warning("survey result not recorded", ticket=ticket, error=str(exc))

    async def _alert(self, kind: str, detail: dict[str, Any]) -> None:
        """An operator alert (board, alerts API); a dead Redis only loses it to the log."""
        try:
            await self.store.raise_alert(kind, detail, datetime.now(UTC))
        except Exception as exc:
            _log.warning("alert not stored", kind=kind, error=str(exc), **detail)

    def _reconcile_after_resync(self) -> None:
        """Hang-ups missed while AMI was down: the rebuilt channel table is the truth."""
        live = {channel.name for channel in self.ami.channels}
        for name, hung_up in self._hangups.items():
            if name not in live:
                _log.warning("channel vanished while AMI was down", channel=name)
                hung_up.set()
        self.trunks.keep_only(live)
        self.records.keep_only(live)

    # -- calls ------------------------------------------------------------------------

    async def _on_call(self, audio: AudioSocketCall) -> None:
        try:
            channel = await self.ami.channel_for_uuid(audio.uuid, timeout=UUID_WAIT)
        except AmiFailure as exc:
            raise RejectCall(f"no AMI channel announced uuid {audio.uuid}: {exc}") from None
        info = CallInfo(
            call_id=audio.uuid,
            channel=channel.name,
            city=channel.variables.get("GW_CITY") or None,
            caller=channel.caller_id_num or "",
            did=channel.variables.get("GW_DID", ""),
        )
        hung_up = self._hangups.setdefault(channel.name, asyncio.Event())
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        self.records.call_started(info)
        budget = self.settings.ivr.time_budget + LEASE_GRACE
        if not await self.leases.hold(channel.name, max_hold=budget):
            _log.warning("lease not taken (AMI?): this call cannot be moved", call_id=info.call_id)
        try:
            outcome = await self._build_session(info, audio, hung_up).run()
        finally:
            self.records.call_ended(info)
            self._hangups.pop(channel.name, None)
            if task is not None:
                self._sessions.discard(task)
        if self._on_hand_off is not None:
            self._on_hand_off(info, outcome)

    def _build_session(
        self, info: CallInfo, audio: AudioSocketCall, hung_up: asyncio.Event
    ) -> CallSession:
        city = self.settings.cities.get(info.city or "")
        speech = self._open_speech(info)
        dialog = Dialog(
            self.settings.ivr,
            consent=city.consent if city else "opt_out",
            classify_final=self._classifier_for(info),
            classify_partial=self.triage.decide_partial,
            prompts=self.catalog,
        )
        _log.info(
            "call started",
            call_id=info.call_id,
            city=info.city,
            caller=mask_number(info.caller),
            speech=speech is not None,
        )
        return CallSession(
            info=info,
            audio=audio,
            dialog=dialog,
            dialog_events=dialog_messages,
            prompts=self.prompt_audio.get,
            ami=self.ami,
            policy=self.policy,
            trunks=self.trunks,
            speech=speech,
            tickets=self.records,
            vad=EnergyDetector(self.settings.asr.energy_threshold),
            hangups=hung_up,
            lease=CallLease(self.leases, info.channel),
        )

    def _open_speech(self, info: CallInfo) -> Any | None:
        if self._speech is None:
            return None
        try:
            return self._speech(info)
        except Exception as exc:  # saturated or failed: this call gets the keypad path
            _log.warning(
                "no recogniser for this call; keypad path", call_id=info.call_id, error=str(exc)
            )
            return None

    def _classifier_for(self, info: CallInfo) -> Callable[[str], TriageResult]:
        """Triage, then ask the routing policy whether the diversion is possible now.

        A down, full or closed destination turns the decision into 110 before the
        caller hears a confirmation naming a line they will not reach.
        """

        def classify(text: str) -> TriageResult:
            result = self.triage.decide(text)
            if result.route not in DIVERTED_ROUTES:
                return result
            destination = self.policy.decide(
                city_code=info.city,
                route=result.route,
                category=result.category,
                at=self.local_time(),
                trunks=self.trunks.snapshot(),
            )
            if destination.route == result.route:
                return result
            return dataclasses.replace(
                result,
                route="110",
                rule=f"routing: {destination.reason}",
                wanted_route=result.route,
            )

        return classify


async def run_forever(gateway: Gateway) -> None:
    """Serve until cancelled (SIGTERM/SIGINT in the CLI)."""
    await gateway.start()
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await gateway.stop()
