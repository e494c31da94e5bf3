"""The shipped configs on a real Asterisk 22, real SIP callers and call-takers (SIPp).

Each scenario is a caller dialling a city's 110 DID on the carrier trunk; where the call
lands is read at the far ends (the INVITE a call-taker received, with its X-GW-* headers)
and from Asterisk's own events. Speech is scripted after the audio stage (no Chinese
Vosk model exists here); everything else is real.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.ami import events as ami
from tests.asterisk.conftest import (
    SESSION_LOOP,
    GatewayFactory,
    Pbx,
    gateway_settings,
    is_user_event,
    record_timing,
)
from tests.asterisk.gateway_process import GatewayProcess
from tests.asterisk.polling import poll_until
from tests.asterisk.sipp import CallerScript, Key, Quiet, Speak

pytestmark = SESSION_LOOP

NANCHANG = "0791110"
CAR = "有台车堵在我家车库门口，打车主电话打不通"
KNIFE = "救命，有人拿着刀在楼道里砍人"


def speaking(seconds: float, hold: float = 20.0) -> CallerScript:
    """Waits for the greeting to start, talks, then keeps the line (quiet) open."""
    return CallerScript([Quiet(0.6), Speak(seconds), Quiet(hold)], hold=hold)


async def test_asterisk_starts_with_the_shipped_configs_without_errors(pbx: Pbx) -> None:
    """Every module modules.conf requires loaded, and no config file missing or broken."""
    boot = pbx.server.console().split("Asterisk Ready.")[0]
    assert "Unable to load config file" not in boot
    assert [line for line in boot.splitlines() if "ERROR[" in line or "WARNING[" in line] == []
    modules = await pbx.server.cli("module show like audiosocket")
    assert "app_audiosocket.so" in modules and "Running" in modules


async def test_no_gateway_caller_reaches_110_at_once(pbx: Pbx) -> None:
    await pbx.call("13800000001", NANCHANG, CallerScript([Quiet(1)], hold=8))
    channel = await pbx.watch.wait_channel("13800000001")
    started = pbx.watch.find(lambda e: isinstance(e, ami.Newchannel))
    routed = await pbx.watch.wait_route(channel, "110", timeout=5)
    assert routed.event.fields["Reason"] == "gateway-failsafe"
    invite = await pbx.call_takers.wait_for_invite("nanchang-110", timeout=5)
    assert invite.header("X-GW-Route") == "110"
    assert started is not None
    record_timing("no gateway → 110 (route-110 entered)", routed.at - started.at)


async def test_key_1_goes_to_110_with_its_ticket(pbx: Pbx, start_gateway: GatewayFactory) -> None:
    await start_gateway()
    await pbx.call("13800000002", NANCHANG, CallerScript([Quiet(0.5), Key("1")], hold=10))
    channel = await pbx.watch.wait_channel("13800000002")
    key = await pbx.watch.wait_for(
        lambda e: isinstance(e, ami.DTMFEnd) and e.channel.channel == channel, 8, "key 1"
    )
    routed = await pbx.watch.wait_route(channel, "110", timeout=8)
    invite = await pbx.call_takers.wait_for_invite("nanchang-110", timeout=5)
    assert invite.header("X-GW-Ticket") == routed.event.fields["Ticket"] != ""
    assert "dtmf-1" in (invite.header("X-GW-Route-Reason") or "")
    record_timing("key 1 → route-110 entered", routed.at - key.at)


async def test_car_blocking_a_garage_is_diverted_to_12345_with_its_category(
    pbx: Pbx, start_gateway: GatewayFactory
) -> None:
    gw = await start_gateway()
    gw.says("13800000003", CAR)
    await pbx.call("13800000003", NANCHANG, speaking(2.5))
    channel = await pbx.watch.wait_channel("13800000003")
    routed = await pbx.watch.wait_route(channel, "12345", timeout=20)
    invite = await pbx.call_takers.wait_for_invite("nanchang-12345", timeout=5)
    assert invite.header("X-GW-Category") == "move_car"
    assert invite.header("X-GW-Ticket") == routed.event.fields["Ticket"]
    assert pbx.call_takers.invites("nanchang-110") == []
    at_trunk = time.monotonic()
    record_timing(
        "diversion: route-12345 entered → INVITE at the 12345 trunk", at_trunk - routed.at
    )


async def test_emergency_words_route_to_110_while_the_caller_still_speaks(
    pbx: Pbx, start_gateway: GatewayFactory
) -> None:
    gw = await start_gateway()
    gw.says("13800000004", KNIFE)
    await pbx.call("13800000004", NANCHANG, speaking(6.0))
    channel = await pbx.watch.wait_channel("13800000004")
    routed = await pbx.watch.wait_route(channel, "110", timeout=15)
    invite = await pbx.call_takers.wait_for_invite("nanchang-110", timeout=5)
    assert invite.header("X-GW-Route") == "110"
    assert invite.header("X-GW-Category") not in (None, "", "unclear")  # "救命" → distress
    outcome = await gw.outcomes.wait_for("13800000004")
    assert outcome.decided_after < 0.6 + 6.0  # before the caller stopped talking
    answered = pbx.watch.find(
        lambda e: (
            isinstance(e, ami.Newstate)
            and e.channel.channel == channel
            and e.channel.state_desc == "Up"
        )
    )
    assert answered is not None
    record_timing("emergency words → route-110 entered (from answer)", routed.at - answered.at)


async def test_silent_caller_reaches_110_within_12_seconds_with_the_shipped_prompts(
    pbx: Pbx, start_gateway: GatewayFactory
) -> None:
    from gateway.settings import DEFAULT_CONFIG, load_settings

    shipped = load_settings(DEFAULT_CONFIG)
    await start_gateway(
        prompts_dir=shipped.ivr.prompts_dir,
        greeting_timeout=shipped.ivr.greeting_timeout,
        confirm_window=shipped.ivr.confirm_window,
    )
    await pbx.call("13800000005", NANCHANG, CallerScript([Quiet(20)], hold=25))
    channel = await pbx.watch.wait_channel("13800000005")
    answered = await pbx.watch.wait_for(
        lambda e: (
            isinstance(e, ami.Newstate)
            and e.channel.channel == channel
            and e.channel.state_desc == "Up"
        ),
        5,
        "answer",
    )
    routed = await pbx.watch.wait_route(channel, "110", timeout=14)
    assert routed.at - answered.at <= 12.0
    record_timing("silent caller → route-110 entered (from answer)", routed.at - answered.at)


async def test_caller_hanging_up_during_the_greeting_becomes_a_call_back(
    pbx: Pbx, start_gateway: GatewayFactory
) -> None:
    gw = await start_gateway()
    caller = await pbx.call("13800000006", NANCHANG, CallerScript([Quiet(0.8)], hold=0.8))
    outcome = await gw.outcomes.wait_for("13800000006", timeout=10)
    assert outcome.callback
    assert not caller.remote_hung_up
    tasks = await gw.gateway.store.list_callbacks()
    assert [t["caller"] for t in tasks] == ["13800000006"]


# ------------------------------------------------------------------ trunks


async def test_12345_trunk_known_down_at_gateway_start_is_never_offered(
    pbx: Pbx, start_gateway: GatewayFactory
) -> None:
    await pbx.call_takers.set("nanchang-12345", "down")
    await pbx.qualified("nanchang-12345", "Unreachable")
    gw = await start_gateway()  # learns trunk health from Asterisk, not from events to come
    gw.says("13800000011", CAR)
    await pbx.call("13800000011", NANCHANG, speaking(2.5))
    channel = await pbx.watch.wait_channel("13800000011")
    await pbx.watch.wait_route(channel, timeout=20)
    assert [r["Route"] for r in pbx.watch.routes(channel)] == ["110"]
    invite = await pbx.call_takers.wait_for_invite("nanchang-110", timeout=5)
    ticket = await gw.gateway.store.get_ticket(invite.header("X-GW-Ticket") or "")
    assert ticket is not None and ticket.intended_route == "12345"


async def test_12345_trunk_going_down_mid_call_keeps_the_caller_on_110(
    pbx: Pbx, start_gateway: GatewayFactory
) -> None:
    await pbx.qualified("nanchang-12345", "Reachable")
    gw = await start_gateway()
    gw.says("13800000012", CAR)
    await pbx.call("13800000012", NANCHANG, speaking(2.5))
    channel = await pbx.watch.wait_channel("13800000012")
    await pbx.call_takers.set("nanchang-12345", "down")
    await pbx.qualified("nanchang-12345", "Unreachable")
    await pbx.watch.wait_route(channel, timeout=20)
    assert [r["Route"] for r in pbx.watch.routes(channel)] == ["110"]
    invite = await pbx.call_takers.wait_for_invite("nanchang-110", timeout=5)
    ticket = await gw.gateway.store.get_ticket(invite.header("X-GW-Ticket") or "")
    assert ticket is not None and ticket.intended_route == "12345"
    assert "transcript-not-diverted" not in ticket.route_reason


@pytest.mark.parametrize(("behaviour", "status"), [("refuse", "CONGESTION"), ("busy", "BUSY")])
async def test_12345_trunk_refusing_or_busy_brings_the_caller_back_to_110_with_the_ticket(
    pbx: Pbx, start_gateway: GatewayFactory, behaviour: str, status: str
) -> None:
    await pbx.qualified("nanchang-12345", "Reachable")
    await pbx.call_takers.set("nanchang-12345", behaviour)  # type: ignore[arg-type]
    gw = await start_gateway()
    number = f"1380000002{len(behaviour)}"
    gw.says(number, CAR)
    await pbx.call(number, NANCHANG, speaking(2.5))
    channel = await pbx.watch.wait_channel(number)
    first = await pbx.watch.wait_route(channel, "12345", timeout=20)
    back = await pbx.watch.wait_route(channel, "110", timeout=5)
    assert back.event.fields["Reason"] == f"trunk-{status}"
    invite = await pbx.call_takers.wait_for_invite("nanchang-110", timeout=5)
    ticket_id = first.event.fields["Ticket"]
    assert invite.header("X-GW-Ticket") == ticket_id
    record_timing(f"12345 trunk {behaviour} → route-110 entered", back.at - first.at)

    async def fallback_recorded() -> bool:
        ticket = await gw.gateway.store.get_ticket(ticket_id)
        return ticket is not None and ticket.route == "110"

    await poll_until(fallback_recorded, 5, "the ticket back on 110")


async def test_110_line_refused_by_qualify_is_still_dialled_and_raises_an_alarm(
    pbx: Pbx, start_gateway: GatewayFactory
) -> None:
    gw = await start_gateway()
    await pbx.call_takers.set("nanchang-110", "down")
    await pbx.qualified("nanchang-110", "Unreachable")
    await pbx.call("13800000013", NANCHANG, CallerScript([Quiet(0.5), Key("1")], hold=30))
    channel = await pbx.watch.wait_channel("13800000013")
    await pbx.watch.wait_for(
        lambda e: (
            isinstance(e, ami.UserEvent)
            and e.user_event == "Gateway110Attempt"
            and e.fields.get("Attempt") == "2"
        ),
        20,
        "a second 110 attempt",
    )
    # the gateway saw the 110 line not answering and says so
    alerts = await gw.gateway.store.alerts()
    assert any(a.get("kind") == "110-not-answering" for a in alerts)
    # the line comes back; qualify has not noticed yet, the next attempt reaches it
    await pbx.call_takers.set("nanchang-110", "answer")
    back = time.monotonic()
    invite = await pbx.call_takers.wait_for_invite("nanchang-110", timeout=15)
    assert invite.header("X-GW-Route") == "110"
    record_timing("110 line back → next INVITE reaches it", time.monotonic() - back)
    assert channel


# ------------------------------------------------------------------ the gateway fails


async def _gateway_process(pbx: Pbx, tmp_path: Path, redis_url: str, prompts: Path, **scripts: str):
    settings = gateway_settings(pbx, redis_url, prompts)
    return await GatewayProcess(settings, pbx.secret, tmp_path, scripts).start()


def _entered(state: str) -> Callable[[dict[str, Any]], bool]:
    """A gateway log line: the dialog entered ``state``."""
    return lambda line: line.get("kind") == "transition" and line.get("to") == state


async def test_gateway_killed_mid_call_lands_in_110(
    pbx: Pbx, tmp_path: Path, redis_server, fresh_redis, tone_prompts: Path
) -> None:
    number = "13800000031"
    process = await GatewayProcess(
        gateway_settings(pbx, redis_server.url, tone_prompts),
        pbx.secret,
        tmp_path,
        {number: CAR * 4},
    ).start()
    try:
        await pbx.call(number, NANCHANG, speaking(8.0))
        channel = await pbx.watch.wait_channel(number)
        await pbx.watch.wait_for(
            lambda e: (
                isinstance(e, ami.Newexten)
                and e.channel.channel == channel
                and e.app_data.startswith("AudioSocket(")
            ),
            5,
            "the call in AudioSocket",
        )
        await process.logged(_entered("describing"), 10, "the caller talking to the gateway")
        process.signal(signal.SIGKILL)
        killed = time.monotonic()
        routed = await pbx.watch.wait_route(channel, "110", timeout=5)
        assert routed.event.fields["Reason"] == "gateway-failsafe"
        await pbx.call_takers.wait_for_invite("nanchang-110", timeout=5)
        record_timing("gateway SIGKILL → route-110 entered", routed.at - killed)
        # its log lines kept their timestamps (the number masker leaves dates alone)
        stamps = [line["timestamp"] for line in process.log_lines() if "timestamp" in line]
        assert stamps and all("*" not in s for s in stamps)
    finally:
        await process.stop()


async def test_gateway_frozen_mid_call_hands_the_caller_to_110_within_5_seconds(
    pbx: Pbx, tmp_path: Path, redis_server, fresh_redis, tone_prompts: Path
) -> None:
    number = "13800000032"
    process = await GatewayProcess(
        gateway_settings(pbx, redis_server.url, tone_prompts),
        pbx.secret,
        tmp_path,
        {number: CAR},
    ).start()
    try:
        await pbx.call(number, NANCHANG, speaking(4.5, hold=30))
        channel = await pbx.watch.wait_channel(number)
        # frozen while the caller is being asked to confirm 12345: when it wakes up, the
        # window it was waiting for is long over and it would divert the call
        await process.logged(_entered("confirm_window"), 15, "the confirmation window")
        process.signal(signal.SIGSTOP)  # alive, holding its sockets, doing nothing
        frozen = time.monotonic()
        routed = await pbx.watch.wait_route(channel, "110", timeout=8)
        held = routed.at - frozen
        assert held <= 5.0, f"caller held {held:.1f} s by a frozen gateway"
        await pbx.call_takers.wait_for_invite("nanchang-110", timeout=5)
        record_timing("gateway SIGSTOP → route-110 entered", held)
        # woken up, the gateway does not pull the caller away from 110
        process.signal(signal.SIGCONT)
        ended = await process.logged(
            lambda line: line.get("event", "").startswith(("lease stale", "audiosocket closed")),
            10,
            "the woken gateway to give the call up",
        )
        assert not any(line.get("event") == "call handed off" for line in process.log_lines())
        assert [r["Route"] for r in pbx.watch.routes(channel)] == ["110"], ended
    finally:
        await process.stop()


async def test_ami_session_kicked_mid_call_the_call_still_routes(
    pbx: Pbx, start_gateway: GatewayFactory
) -> None:
    gw = await start_gateway()
    gw.says("13800000033", CAR)
    await pbx.call("13800000033", NANCHANG, speaking(2.5))
    channel = await pbx.watch.wait_channel("13800000033")
    sessions = await pbx.server.cli("manager show connected")
    await pbx.server.cli("manager kick session " + _newest_session(sessions))
    routed = await pbx.watch.wait_route(channel, timeout=20)
    assert routed.event.fields["Route"] in ("12345", "110")
    assert gw.gateway.ami.sessions >= 2


def _newest_session(listing: str) -> str:
    """The file descriptor of the newest AMI session ("manager show connected"): the
    gateway's, which logged in after the test's own watcher."""
    rows = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0] == "gateway" and parts[2].isdigit():
            rows.append((int(parts[2]), int(parts[4])))  # start, file descriptor
    assert rows, listing
    return str(max(rows)[1])


# ------------------------------------------------------------------ survey and load


async def test_survey_call_through_the_carrier_trunk_closes_the_ticket(
    pbx: Pbx, start_gateway: GatewayFactory
) -> None:
    from datetime import UTC, datetime, timedelta

    from gateway.tickets.loop import Step
    from gateway.tickets.model import LoopState

    await pbx.qualified("nanchang-12345", "Reachable")
    gw = await start_gateway()
    number = "13800000041"
    gw.says(number, CAR)
    await pbx.call(number, NANCHANG, speaking(2.5))
    channel = await pbx.watch.wait_channel(number)
    routed = await pbx.watch.wait_route(channel, "12345", timeout=20)
    ticket_id = routed.event.fields["Ticket"]
    store = gw.gateway.store
    await gw.outcomes.wait_for(number)
    await pbx.server.hang_up_everything()
    for step, detail in (
        (Step.TRANSFER, {}),
        (Step.ACKNOWLEDGE, {}),
        (Step.FEEDBACK, {"outcome": "resolved"}),
    ):
        assert (await store.transition(ticket_id, step, actor="test", detail=detail)).applied
    await pbx.citizen.set("carrier-110", "key:1")  # the citizen answers and presses 1
    later = datetime.now(UTC) + timedelta(hours=gw.gateway.settings.loop.followup_after_hours + 1)
    report = await gw.gateway.keeper.sweep(later)
    assert ticket_id in report.surveys_placed
    result = await pbx.watch.wait_for(is_user_event("SurveyResult"), 20, "the survey's result")
    assert result.event.fields == {"Ticket": ticket_id, "Result": "satisfied", "Digit": "1"}
    invite = pbx.citizen.invites("carrier-110")[-1]
    assert invite.first_line.startswith(f"INVITE sip:{number}@")

    async def closed() -> bool:
        ticket = await store.get_ticket(ticket_id)
        return ticket is not None and ticket.state is LoopState.CLOSED

    await poll_until(closed, 5, "the ticket closed")


async def test_twenty_concurrent_sip_calls_each_land_where_they_belong(
    pbx: Pbx, start_gateway: GatewayFactory
) -> None:
    gw = await start_gateway()
    kinds = [
        (CAR, "12345", "nanchang-12345"),
        (KNIFE, "110", "nanchang-110"),
        ("", "110", "nanchang-110"),  # presses 1
    ]
    callers = {f"1390000{n:04d}": kinds[n % 3] for n in range(20)}
    for number, (words, _, _) in callers.items():
        if words:
            gw.says(number, words)
    await asyncio.gather(
        *(
            pbx.call(
                number,
                NANCHANG,
                speaking(3.0) if words else CallerScript([Quiet(0.5), Key("1")], hold=20),
            )
            for number, (words, _, _) in callers.items()
        )
    )
    channels = {n: await pbx.watch.wait_channel(n, timeout=15) for n in callers}
    for number, (_, route, _) in callers.items():
        await pbx.watch.wait_route(channels[number], route, timeout=30)
    tickets = {pbx.watch.routes(ch)[0]["Ticket"] for ch in channels.values()}
    assert len(tickets) == 20
    invites = pbx.call_takers.all_invites()
    assert len(invites.get("nanchang-12345", [])) == 7
