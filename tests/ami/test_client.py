"""The wrapped panoramisk client against the PBX double, over real TCP."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import pytest
import structlog

from gateway.ami import (
    AmiClient,
    AmiError,
    AmiEvent,
    AmiNotConnected,
    AmiTimeout,
    ConnectionLost,
    ConnectionUp,
    EventStream,
    OriginateReason,
    TrunkStatus,
    UserEvent,
    VarSet,
)
from gateway.pbx_double import PbxDouble, SimulatedCall

from .conftest import SECRET, ami_settings


async def next_of(stream: EventStream, kind: type, timeout: float = 5.0) -> AmiEvent:
    async with asyncio.timeout(timeout):
        while True:
            event = await stream.get(timeout)
            if isinstance(event, kind):
                return event


async def call_in_route_110(double: PbxDouble) -> SimulatedCall:
    call = await double.place_call(did="0791110", caller_id="13812345678", caller_name="张三")
    await call.wait_for(lambda: call.bridged_to is not None, 5, "bridged to 110")
    return call


async def test_login_then_ping_and_errors_carry_asterisk_message(client: AmiClient) -> None:
    assert await client.ping() < 1.0
    with pytest.raises(AmiError) as failure:
        await client.redirect("PJSIP/nope-00000000", "route-12345")
    assert failure.value.message == "Channel does not exist: PJSIP/nope-00000000"
    with pytest.raises(AmiError, match="No such channel"):
        await client.getvar("PJSIP/nope-00000000", "GW_UUID")


async def test_actions_without_a_link_fail_at_once() -> None:
    client = AmiClient(ami_settings(1), secret=SECRET)
    with pytest.raises(AmiNotConnected):
        await client.hangup("PJSIP/x-00000000")


async def test_bad_credentials_are_retried_slowly_with_a_clear_error(double: PbxDouble) -> None:
    login_retry = 0.3
    client = AmiClient(ami_settings(double.ami_port, login_retry=login_retry), secret="wrong")

    def rejected_attempts() -> list[float]:
        return [at for at, _, ok in double.login_attempts if not ok]

    with structlog.testing.capture_logs() as logs:
        await client.start()
        async with asyncio.timeout(5):  # the double records a Login before it answers
            while len(rejected_attempts()) < 2:
                await double.wait_for_action("Login", 5)
        with pytest.raises(AmiTimeout, match="Authentication failed"):
            await client.wait_ready(0.1)
        await client.close()
    attempts = rejected_attempts()
    assert len(attempts) >= 2  # it keeps trying ...
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert min(gaps) >= login_retry  # ... but never in a tight loop
    rejected = [e for e in logs if e["event"] == "ami.login_rejected"]
    assert rejected and rejected[0]["message"] == "Authentication failed"


async def test_channel_found_by_audiosocket_uuid(client: AmiClient, double: PbxDouble) -> None:
    call = await double.place_call(did="0791110", caller_id="13812345678")
    await call.wait_for(lambda: call.uuid is not None, 5, "GW_UUID")
    assert call.uuid is not None
    channel = await client.channel_for_uuid(uuid.UUID(call.uuid), 2)
    assert channel.name == call.name
    assert channel.variables["GW_CITY"] == "nanchang"
    assert channel.caller_id_num == "13812345678"
    with pytest.raises(AmiTimeout):
        await client.channel_for_uuid(uuid.uuid4(), 0.1)


async def test_reconnect_rebuilds_channel_table_and_can_redirect_live_call(
    client: AmiClient, double: PbxDouble
) -> None:
    stream = client.events()
    kept = await call_in_route_110(double)
    ended = await call_in_route_110(double)
    assert kept.uuid is not None and ended.uuid is not None
    await client.channel_for_uuid(kept.uuid, 2)

    await double.set_ami_accepting(False)  # an outage long enough for calls to change
    await double.drop_ami_connections()
    await next_of(stream, ConnectionLost)
    await ended.hang_up()
    newcomer = await call_in_route_110(double)
    await double.set_ami_accepting(True)
    up = await next_of(stream, ConnectionUp)
    assert isinstance(up, ConnectionUp) and up.reconnect

    assert client.channels.by_name(ended.name) is None
    assert newcomer.uuid is not None
    assert client.channels.by_uuid(newcomer.uuid) is not None  # learnt through Getvar
    channel = await client.channel_for_uuid(kept.uuid, 1)
    await client.setvar(channel.name, "GW_DEST", "PJSIP/12345@nanchang-12345")
    await client.redirect(channel.name, "route-12345")
    await kept.wait_for_context("route-12345", 2)
    assert kept.variables["GW_DEST"] == "PJSIP/12345@nanchang-12345"


async def test_swallowed_action_times_out_and_the_client_goes_on(
    client: AmiClient, double: PbxDouble
) -> None:
    double.swallow_actions("Setvar")
    started = time.monotonic()
    with pytest.raises(AmiTimeout):
        await client.setvar(None, "GW_X", "1")
    assert time.monotonic() - started < 2.0
    double.swallow_actions()
    assert await client.ping() < 1.0


async def test_dead_tcp_is_detected_by_keepalive(double: PbxDouble) -> None:
    client = AmiClient(
        ami_settings(double.ami_port, ping_interval=0.1, ping_timeout=0.2), secret=SECRET
    )
    stream = client.events()
    await client.start()
    await client.wait_ready(5)
    double.set_ami_silent(True)  # the peer stops answering, TCP stays open
    lost = await next_of(stream, ConnectionLost, 3)
    assert isinstance(lost, ConnectionLost) and "keep-alive failed" in lost.reason
    double.set_ami_silent(False)
    await next_of(stream, ConnectionUp, 5)
    await client.close()


@pytest.mark.parametrize("action", ["Redirect", "Originate", "Hangup", "Setvar"])
async def test_unanswered_action_is_not_replayed_after_reconnect(
    action: str, client: AmiClient, double: PbxDouble
) -> None:
    call = await call_in_route_110(double)
    stream = client.events()
    double.swallow_actions(action)
    requests = {
        "Redirect": lambda: client.redirect(call.name, "route-12345"),
        "Originate": lambda: client.originate("Local/1@survey-dial", context="survey"),
        "Hangup": lambda: client.hangup(call.name),
        "Setvar": lambda: client.setvar(call.name, "GW_ROUTE", "12345"),
    }
    pending = asyncio.ensure_future(requests[action]())
    await double.wait_for_action(action, 2)
    await double.drop_ami_connections()
    with pytest.raises(AmiNotConnected):
        await pending
    double.swallow_actions()
    await next_of(stream, ConnectionUp)
    await client.ping()  # FullyBooted has come and gone on the new session
    assert [a.name for a in double.ami_actions].count(action) == 1
    assert call.context == "route-110" and not call.hung_up


async def test_chinese_text_split_across_tcp_writes_arrives_whole(
    client: AmiClient, double: PbxDouble
) -> None:
    stream = client.events()
    message = "Event: VarSet\r\nPrivilege: dialplan,all\r\nVariable: GW_TRANSCRIPT\r\n"
    data = (message + "Value: 我的车被堵住了\r\n\r\n").encode()
    cut = data.index("堵".encode()) + 2  # inside the 3-byte character
    double.inject_raw(data[:cut])
    await asyncio.sleep(0.05)  # let the first half go out as its own TCP segment
    double.inject_raw(data[cut:])
    event = await next_of(stream, AmiEvent)
    assert event.get("Value") == "我的车被堵住了"


@pytest.mark.parametrize(
    ("garbage", "logged"),
    [
        (b"\x00\xff not a header at all\r\n\r\n", "ami.malformed_line"),
        (b"Event: A\r\nX: 1\r\nEvent: B\r\n\r\n", "ami.missing_blank_line"),
        (b"Event: Big\r\nValue: " + b"y" * 70_000 + b"\r\n\r\n", "ami.line_too_long"),
    ],
)
async def test_malformed_ami_input_is_logged_and_the_link_survives(
    garbage: bytes, logged: str, client: AmiClient, double: PbxDouble
) -> None:
    with structlog.testing.capture_logs() as logs:
        double.inject_raw(garbage)
        assert await client.ping() < 1.0  # answered after the garbage: same link
    assert logged in {entry["event"] for entry in logs}
    assert client.sessions == 1


async def test_truncated_message_then_disconnect_is_logged_and_reconnects(
    client: AmiClient, double: PbxDouble
) -> None:
    stream = client.events()
    with structlog.testing.capture_logs() as logs:
        double.inject_raw(b"Event: Hangup\r\nChannel: PJSIP/carrier-in-0000")
        await double.drop_ami_connections(graceful=True)
        await next_of(stream, ConnectionUp)
    assert "ami.truncated_message" in {entry["event"] for entry in logs}


async def test_callback_errors_are_logged_and_others_still_called(
    client: AmiClient,
) -> None:
    received: list[str] = []

    def broken(event: AmiEvent) -> None:
        raise RuntimeError("boom")

    async def broken_async(event: AmiEvent) -> None:
        raise RuntimeError("async boom")

    got = asyncio.Event()

    def good(event: AmiEvent) -> None:
        if isinstance(event, UserEvent):
            received.append(event.user_event)
            got.set()

    client.subscribe(broken)
    client.subscribe(broken_async)
    client.subscribe(good)
    with structlog.testing.capture_logs() as logs:
        await client.user_event("GatewayDecision", {"Uuid": "x", "Route": "12345"})
        async with asyncio.timeout(2):
            await got.wait()
        await client.ping()
    assert received == ["GatewayDecision"]
    failures = [e for e in logs if e["event"] == "ami.callback_failed"]
    assert len(failures) == 2


@pytest.mark.parametrize(
    ("dial", "outcome", "reason"),
    [
        ("Local/13800000001@survey-dial", "ANSWER", OriginateReason.ANSWERED),
        ("Local/13800000002@survey-dial", "BUSY", OriginateReason.BUSY),
        ("Local/13800000003@survey-dial", "NOANSWER", OriginateReason.NO_ANSWER),
        ("Local/13800000004@no-such-context", None, OriginateReason.FAILED),
        ("Foo/bar", None, OriginateReason.FAILED),
    ],
)
async def test_originate_result_carries_reason(
    dial: str,
    outcome: str | None,
    reason: OriginateReason,
    client: AmiClient,
    double: PbxDouble,
) -> None:
    if outcome is not None:
        double.set_originate_outcome(dial.split("/")[1].split("@")[0], outcome)
    result = await client.originate(
        dial, context="survey", timeout_ms=3000, variables={"GW_TICKET": "T-1"}
    )
    assert result.reason == reason
    assert result.success == (reason == OriginateReason.ANSWERED)
    if not result.success:
        assert result.uniqueid == "<unknown>" and result.channel == dial


async def test_survey_call_reports_the_digit(client: AmiClient, double: PbxDouble) -> None:
    stream = client.events()
    double.set_survey_answer("13800000009", "2")
    result = await client.originate(
        "Local/13800000009@survey-dial",
        context="survey",
        caller_id='"110" <110>',
        variables={"GW_TICKET": "T-9"},
    )
    assert result.success
    while True:
        event = await next_of(stream, UserEvent)
        assert isinstance(event, UserEvent)
        if event.user_event == "SurveyResult":
            break
    assert event.fields == {"Ticket": "T-9", "Result": "unsatisfied", "Digit": "2"}


async def test_trunk_health_arrives_as_trunk_status(client: AmiClient, double: PbxDouble) -> None:
    stream = client.events()
    double.set_trunk_reachable("nanchang-12345", False)
    status = await next_of(stream, TrunkStatus)
    assert isinstance(status, TrunkStatus)
    assert (status.endpoint, status.reachable, status.source) == (
        "nanchang-12345",
        False,
        "ContactStatus",
    )


async def test_core_show_channels_lists_live_calls(client: AmiClient, double: PbxDouble) -> None:
    call = await call_in_route_110(double)
    listing = await client.core_show_channels()
    names = {item.channel.channel: item for item in listing}
    assert names[call.name].application == "Dial"
    assert len(listing) == 2  # the caller and the 110 call-taker's channel


async def test_hangup_action_ends_the_call(client: AmiClient, double: PbxDouble) -> None:
    call = await call_in_route_110(double)
    stream = client.events()
    await client.hangup(call.name)
    assert await call.wait_hung_up(2) == 16
    while True:
        event = await next_of(stream, AmiEvent)
        if event.name == "Hangup" and event.get("Channel") == call.name:
            break
    assert client.channels.by_name(call.name) is None


async def test_setvar_updates_tracked_variables(client: AmiClient, double: PbxDouble) -> None:
    call = await call_in_route_110(double)
    stream = client.events()
    await client.setvar(call.name, "GW_TICKET", "JX-0001")
    await next_of(stream, VarSet)
    channel = client.channels.by_name(call.name)
    assert channel is not None and channel.variables["GW_TICKET"] == "JX-0001"
    assert await client.getvar(call.name, "GW_TICKET") == "JX-0001"


async def test_asterisk_shutdown_event_closes_the_link_and_the_client_reconnects(
    client: AmiClient, double: PbxDouble
) -> None:
    stream = client.events()
    double.inject_raw(
        b"Event: Shutdown\r\nPrivilege: system,all\r\nShutdown: Cleanly\r\nRestart: True\r\n\r\n"
    )
    up = await next_of(stream, ConnectionUp)
    assert up.reconnect and client.sessions == 2
    assert await client.ping() < 1.0
