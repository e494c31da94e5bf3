"""Calls in the double follow the dialplan contract, over real AudioSocket and AMI."""

from __future__ import annotations

import asyncio
import socket
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.ami import AmiClient
from gateway.pbx_double import PbxDouble, load_caller_wav
from gateway.settings import AmiSettings

from .conftest import CITIES, AudioSocketPeer

PCM = bytes(range(256)) * 25  # 6400 bytes = 0.4 s, recognisable


@pytest.fixture
async def ami(double: PbxDouble) -> AsyncIterator[AmiClient]:
    settings = AmiSettings(host="127.0.0.1", port=double.ami_port, action_timeout=1.0)
    client = AmiClient(settings, secret="gateway-secret")
    await client.start()
    await client.wait_ready(5)
    yield client
    await client.close()


async def test_call_reaches_gateway_with_its_uuid_and_real_time_audio(
    double: PbxDouble, peer: AudioSocketPeer
) -> None:
    call = await double.place_call(did="0791110", caller_id="13812345678", audio=PCM)
    connection = await peer.next_connection()
    assert str(connection.uuid) == call.uuid
    assert call.variables["GW_CITY"] == "nanchang"
    assert call.variables["GW_110_DIAL"] == "PJSIP/110@nanchang-110"
    loop = asyncio.get_running_loop()
    started = loop.time()
    await connection.wait_received(len(PCM) + 320 * 5)
    elapsed = loop.time() - started
    assert bytes(connection.received[: len(PCM)]) == PCM
    assert connection.received[len(PCM) : len(PCM) + 1600] == bytes(1600)  # silence after
    assert elapsed >= 0.02 * (len(PCM) // 320 + 5) * 0.8  # paced, not a burst


@pytest.mark.parametrize("ending", ["hangup-frame", "tcp-close"])
async def test_gateway_leaving_without_redirect_sends_caller_to_110(
    ending: str, double: PbxDouble, peer: AudioSocketPeer
) -> None:
    call = await double.place_call(did="0791110", caller_id="13812345678")
    connection = await peer.next_connection()
    if ending == "hangup-frame":
        connection.send_hangup_frame()
    else:
        connection.writer.close()
    await call.wait_for_context("route-110", 5)
    assert call.variables["GW_ROUTE_REASON"] == "gateway-failsafe"
    assert call.variables["TRYSTATUS"] == ("SUCCESS" if ending == "hangup-frame" else "FAILED")
    await call.wait_for(lambda: call.bridged_to is not None, 5, "110 answers")
    assert call.dial_attempts[-1] == ("PJSIP/110@nanchang-110", "ANSWER")
    assert not call.hung_up


async def test_refused_audiosocket_does_not_hang_up_the_caller() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    double = PbxDouble(audiosocket=("127.0.0.1", port), cities=CITIES, ring_time=0.01)
    await double.start()
    try:
        call = await double.place_call(did="0791110", caller_id="13812345678")
        await call.wait_for_context("route-110", 5)
        assert call.audiosocket_refused and not call.hung_up
        assert call.variables["GW_ROUTE_REASON"] == "gateway-failsafe"
    finally:
        await double.stop()


async def test_redirect_closes_the_leg_without_hangup_frame_and_moves_the_call(
    double: PbxDouble, peer: AudioSocketPeer, ami: AmiClient
) -> None:
    call = await double.place_call(did="0791110", caller_id="13812345678")
    connection = await peer.next_connection()
    channel = await ami.channel_for_uuid(connection.uuid, 2)
    await ami.setvar(channel.name, "GW_TRANSCRIPT", "%E6%88%91")
    await ami.setvar(channel.name, "GW_DEST", "PJSIP/12345@nanchang-12345")
    await ami.setvar(channel.name, "GW_TICKET", "JX-1")
    await ami.redirect(channel.name, "route-12345")
    async with asyncio.timeout(1):
        await connection.eof.wait()
    await call.wait_for(lambda: call.bridged_to is not None, 5, "12345 answers")
    assert call.leg_close_reason == "closed"
    assert call.context_history == ["from-110", "gateway-in", "route-12345"]
    assert call.variables["GW_TRANSCRIPT"] == "%E6%88%91"
    assert call.sip_headers["X-GW-Ticket"] == "JX-1"
    assert call.dial_attempts == [("PJSIP/12345@nanchang-12345", "ANSWER")]


@pytest.mark.parametrize("status", ["BUSY", "NOANSWER", "CHANUNAVAIL"])
async def test_failed_trunk_brings_the_caller_back_to_110(
    status: str, double: PbxDouble, peer: AudioSocketPeer
) -> None:
    double.set_trunk_outcome("nanchang-12345", status)
    call = await double.place_call(did="0791110", caller_id="13812345678")
    await peer.next_connection()
    double.set_channel_variable(call.channel, "GW_DEST", "PJSIP/12345@nanchang-12345")
    call.redirect("route-12345", "s", 1)
    await call.wait_for(lambda: call.bridged_to is not None, 5, "110 answers")
    assert call.variables["GW_ROUTE_REASON"] == f"trunk-{status}"
    assert call.dial_attempts == [
        ("PJSIP/12345@nanchang-12345", status),
        ("PJSIP/110@nanchang-110", "ANSWER"),
    ]


async def test_unreachable_trunk_reports_and_gives_chanunavail(
    double: PbxDouble, peer: AudioSocketPeer
) -> None:
    double.set_trunk_reachable("nanchang-mediation", False)
    call = await double.place_call(did="0791110", caller_id="13812345678")
    await peer.next_connection()
    double.set_channel_variable(call.channel, "GW_DEST", "PJSIP/zz@nanchang-mediation")
    call.redirect("route-mediation", "s", 1)
    await call.wait_for_context("route-110", 5)
    assert call.variables["GW_ROUTE_REASON"] == "trunk-CHANUNAVAIL"


async def test_110_that_does_not_answer_is_dialled_again(
    double: PbxDouble, peer: AudioSocketPeer
) -> None:
    double.set_trunk_outcome("nanchang-110", "NOANSWER")
    call = await double.place_call(did="0791110", caller_id="13812345678")
    (await peer.next_connection()).writer.close()
    await call.wait_for(lambda: len(call.dial_attempts) >= 2, 5, "second 110 attempt")
    assert not call.hung_up
    double.set_trunk_outcome("nanchang-110", "ANSWER")
    await call.wait_for(lambda: call.bridged_to is not None, 5, "110 answers")


async def test_caller_dtmf_reaches_the_socket(double: PbxDouble, peer: AudioSocketPeer) -> None:
    call = await double.place_call(
        did="0791110", caller_id="13812345678", dtmf_script=[(0.05, "1")]
    )
    connection = await peer.next_connection()
    await connection.wait_dtmf(1)  # the scripted digit
    await call.send_dtmf("#")
    await connection.wait_dtmf(2)
    assert connection.dtmf == ["1", "#"]


@pytest.mark.parametrize("who", ["ami", "caller"])
async def test_hangup_closes_the_leg(
    who: str, double: PbxDouble, peer: AudioSocketPeer, ami: AmiClient
) -> None:
    call = await double.place_call(did="0791110", caller_id="13812345678")
    connection = await peer.next_connection()
    if who == "ami":
        await ami.hangup(call.name)
    else:
        await call.hang_up()
    assert await call.wait_hung_up(2) == (16 if who == "ami" else 0)
    async with asyncio.timeout(1):
        await connection.eof.wait()
    assert double.find_channel(call.name) is None


async def test_unknown_did_still_reaches_110_as_the_shipped_dialplan_does(
    double: PbxDouble,
) -> None:
    call = await double.place_call(did="0000", caller_id="13812345678")
    await call.wait_for_context("route-110", timeout=2)
    assert call.variables["GW_ROUTE_REASON"] == "unknown-did"
    assert not call.hung_up and call.leg is None


async def test_uuid_is_a_fresh_uuid4_per_call(double: PbxDouble, peer: AudioSocketPeer) -> None:
    first = await double.place_call(did="0791110", caller_id="1")
    second = await double.place_call(did="0792110", caller_id="2")
    uuids = {(await peer.next_connection()).uuid, (await peer.next_connection()).uuid}
    assert uuids == {uuid.UUID(first.uuid or ""), uuid.UUID(second.uuid or "")}
    assert second.variables["GW_CITY"] == "jiujiang"


async def test_double_built_from_the_shipped_config_knows_every_did_as_the_dialplan_does() -> None:
    from gateway.settings import PROJECT_ROOT, load_settings
    from tests.docker.asterisk_conf import load_dialplan, parse_conf

    shipped = load_dialplan(parse_conf(PROJECT_ROOT / "docker/asterisk/extensions.conf"))
    double = PbxDouble.from_settings(load_settings())
    dids = {d for d in shipped["from-110"] if d[0].isdigit()}
    assert dids == set(double.cities)
    for did, (code, dial_110) in double.cities.items():
        args = [p.args for p in shipped["from-110"][did]]
        assert args[:2] == [f"GW_CITY={code}", f"GW_110_DIAL={dial_110}"]


async def test_captured_caller_wav_is_streamed_byte_identical(
    transcripts: Path, double: PbxDouble, peer: AudioSocketPeer
) -> None:
    pcm = load_caller_wav(transcripts / "05-full-call-flow.audiosocket.rx-audio.wav")[:3200]
    call = await double.place_call(did="0791110", caller_id="13812345678", audio=pcm)
    connection = await peer.next_connection()
    await connection.wait_received(len(pcm))
    assert bytes(connection.received[: len(pcm)]) == pcm
    await call.hang_up()


def test_wav_in_the_wrong_format_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(bytes(64))
    with pytest.raises(ValueError, match="8000 Hz, 16-bit, mono; got 16000 Hz"):
        load_caller_wav(path)
