"""The AudioSocket server over real TCP, driven by the Asterisk-like leg of the PBX double."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from structlog.testing import capture_logs

from gateway.audiosocket import Audio, AudioSocketCall, CloseReason, Dtmf, RejectCall
from gateway.audiosocket.protocol import Kind, encode_audio, encode_dtmf, encode_uuid
from gateway.pbx_double.audiosocket_leg import AudioSocketLeg
from tests.audiosocket.conftest import Recorder, StartServer, ends_with_hangup, read_until_eof

CALL_ID = uuid.UUID("4dbee5ee-6ad7-40b2-93e3-777f63539183")
ONE_SECOND = 16000  # bytes of 8 kHz 16-bit mono


def closed_lines(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == "audiosocket.closed"]


def ramp(nbytes: int) -> bytes:
    """Audio that is not silence, so it can be found in what the leg received."""
    return bytes((i * 7 + 1) % 251 for i in range(nbytes))


async def raw_connection(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


# ------------------------------------------------------------------ a normal call


async def test_call_gets_the_uuid_as_lower_case_text_and_audio_and_dtmf_in_order(
    start_server: StartServer,
):
    recorder = Recorder()
    _, port = await start_server(recorder)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    await leg.send_audio(ramp(320))
    await leg.send_audio(ramp(480))  # a SIP caller's 30 ms frame
    await leg.send_dtmf("1")
    await leg.send_audio(ramp(122))  # a short last frame
    call = await recorder.next_call()
    assert call.uuid == str(CALL_ID)
    items = await recorder.wait_items(call.uuid, 4)
    assert items == [Audio(ramp(320)), Audio(ramp(480)), Dtmf("1"), Audio(ramp(122))]


async def test_asterisk_closing_the_socket_ends_incoming_with_peer_closed(
    start_server: StartServer,
):
    recorder = Recorder()
    _, port = await start_server(recorder)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    call = await recorder.next_call()
    await leg.close()  # what Asterisk does on Redirect: no 0x00, just close
    await asyncio.wait_for(call.closed.wait(), 5)
    assert call.close_reason == CloseReason.PEER_CLOSED


async def test_idle_call_gets_silence_so_asterisk_inactivity_limit_never_fires(
    start_server: StartServer,
):
    recorder = Recorder()
    _, port = await start_server(recorder, idle_timeout=30)
    # The leg says nothing and gives up after 0.2 s without a frame either way, like
    # Asterisk's 2 s limit scaled down; the server's silence must keep it alive.
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID, inactivity_timeout=0.2)
    await leg.wait_audio(ONE_SECOND // 2)
    assert not leg.is_closed
    assert leg.received_audio == bytes(len(leg.received_audio))
    await leg.close()


async def test_prompt_is_sent_whole_in_320_byte_frames_at_one_per_20_ms(
    start_server: StartServer,
):
    recorder = Recorder()
    _, port = await start_server(recorder)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    call = await recorder.next_call()
    prompt = ramp(ONE_SECOND // 5)  # 200 ms = 10 frames
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await call.play(prompt) is True
    elapsed = loop.time() - started
    assert elapsed >= 9 * 0.020 - 0.005  # ten frames on a 20 ms grid: nine gaps at least
    await leg.wait_audio(len(leg.received_audio) + 1)
    assert prompt in bytes(leg.received_audio)
    frames_so_far = leg.audio_frames_received
    assert len(leg.received_audio) == frames_so_far * 320
    await leg.close()


async def test_stop_playback_interrupts_a_prompt_at_once_and_silence_follows(
    start_server: StartServer,
):
    recorder = Recorder()
    _, port = await start_server(recorder)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    call = await recorder.next_call()
    prompt = ramp(ONE_SECOND * 5)
    playing = asyncio.create_task(call.play(prompt))
    await leg.wait_audio(3 * 320)
    assert call.stop_playback() is True
    assert await asyncio.wait_for(playing, 0.5) is False
    assert not call.playing
    # Frames already on the wire may still arrive; after them only silence follows.
    await leg.wait_audio(len(leg.received_audio) + 10 * 320)
    tail = bytes(leg.received_audio[-5 * 320 :])
    assert tail == bytes(len(tail))
    assert prompt not in bytes(leg.received_audio)
    await leg.close()


async def test_a_new_prompt_replaces_the_one_playing(start_server: StartServer):
    recorder = Recorder()
    _, port = await start_server(recorder)
    await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    call = await recorder.next_call()
    first = asyncio.create_task(call.play(ramp(ONE_SECOND * 5)))
    await asyncio.sleep(0)  # let the first prompt start
    assert await call.play(ramp(640)) is True
    assert await first is False


async def test_play_on_a_call_that_ended_returns_false(start_server: StartServer):
    recorder = Recorder()
    _, port = await start_server(recorder)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    call = await recorder.next_call()
    playing = asyncio.create_task(call.play(ramp(ONE_SECOND * 5)))
    await leg.wait_audio(320)
    await leg.close()
    assert await asyncio.wait_for(playing, 5) is False
    assert await call.play(ramp(320)) is False


async def test_hangup_sends_the_hangup_frame_then_closes(start_server: StartServer):
    recorder = Recorder()
    _, port = await start_server(recorder)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    call = await recorder.next_call()
    await call.hangup()
    assert call.close_reason == CloseReason.HANGUP
    assert await asyncio.wait_for(leg.wait_closed(), 5) == "hangup-frame"


async def test_server_never_sends_a_dtmf_frame(start_server: StartServer):
    """Asterisk tears the call down on a 0x03 from us (scenario 08): only 0x10 and 0x00."""
    recorder = Recorder()
    _, port = await start_server(recorder)
    reader, writer = await raw_connection(port)
    writer.write(encode_uuid(CALL_ID) + encode_dtmf("5"))
    call = await recorder.next_call()
    await call.play(ramp(960))
    await call.hangup()
    frames = await read_until_eof(reader)
    assert {f.kind for f in frames} == {Kind.AUDIO, Kind.HANGUP}
    assert ends_with_hangup(frames)
    writer.close()


async def test_server_stop_hangs_up_every_call(start_server: StartServer):
    recorder = Recorder()
    server, port = await start_server(recorder)
    legs = [await AudioSocketLeg.connect("127.0.0.1", port, uuid.uuid4()) for _ in range(3)]
    calls = [await recorder.next_call() for _ in legs]
    await server.stop()
    assert [await leg.wait_closed() for leg in legs] == ["hangup-frame"] * 3
    assert {c.close_reason for c in calls} == {CloseReason.SERVER_STOPPED}


async def test_handler_returning_with_the_call_open_hangs_it_up(start_server: StartServer):
    seen: list[AudioSocketCall] = []

    async def forgetful(call: AudioSocketCall) -> None:
        seen.append(call)

    _, port = await start_server(forgetful)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    assert await asyncio.wait_for(leg.wait_closed(), 5) == "hangup-frame"
    assert seen[0].close_reason == CloseReason.HANDLER_FINISHED


# ------------------------------------------------------------------ bad input


async def test_unknown_uuid_rejected_by_the_handler_is_hung_up_and_logged(
    start_server: StartServer,
):
    async def only_known(call: AudioSocketCall) -> None:
        raise RejectCall(f"no AMI channel announced uuid {call.uuid}")

    _, port = await start_server(only_known)
    with capture_logs() as logs:
        leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
        assert await asyncio.wait_for(leg.wait_closed(), 5) == "hangup-frame"
    [line] = closed_lines(logs)
    assert line["reason"] == "rejected"
    assert line["call_id"] == str(CALL_ID)
    assert "no AMI channel announced" in line["detail"]
    assert line["log_level"] == "warning"


async def test_handler_crash_hangs_up_only_that_call(start_server: StartServer):
    async def crashing(call: AudioSocketCall) -> None:
        raise RuntimeError("bug")

    _, port = await start_server(crashing)
    with capture_logs() as logs:
        leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
        assert await asyncio.wait_for(leg.wait_closed(), 5) == "hangup-frame"
    [line] = closed_lines(logs)
    assert line["reason"] == "handler-error" and "RuntimeError: bug" in line["detail"]


MALFORMED = {
    "bytes-that-are-not-frames": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "unknown-kind", False),
    "unknown-kind": (encode_uuid(CALL_ID) + b"\x42\x00\x01x", "unknown-kind", True),
    "payload-over-limit": (encode_uuid(CALL_ID) + b"\x10\x10\x01", "payload-too-large", True),
    "second-uuid": (encode_uuid(CALL_ID) + encode_uuid(uuid.uuid4()), "second-uuid", True),
    "audio-before-uuid": (
        encode_audio(bytes(320)) + encode_uuid(CALL_ID),
        "frame-before-uuid",
        False,
    ),
    "bad-uuid-length": (b"\x01\x00\x0f" + bytes(15), "bad-uuid", False),
    "uuid-as-text": (b"\x01\x00\x24" + str(CALL_ID).encode(), "bad-uuid", False),
    "dtmf-not-a-digit": (encode_uuid(CALL_ID) + b"\x03\x00\x01x", "bad-dtmf", True),
    "odd-audio-length": (encode_uuid(CALL_ID) + b"\x10\x00\x03abc", "bad-audio-length", True),
    "16-khz-audio": (
        encode_uuid(CALL_ID) + b"\x12\x00\x02\x00\x00",
        "unsupported-audio-rate",
        True,
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_input_gets_a_log_line_and_a_clean_close(
    start_server: StartServer, case: str
):
    data, reason, call_id_known = MALFORMED[case]
    recorder = Recorder()
    _, port = await start_server(recorder, max_payload=4096)
    with capture_logs() as logs:
        reader, writer = await raw_connection(port)
        writer.write(data)
        frames = await read_until_eof(reader)
    writer.close()
    assert ends_with_hangup(frames)  # 0x00 then close: AudioSocket() returns, dialplan → 110
    [line] = closed_lines(logs)
    assert line["reason"] == reason
    assert line["log_level"] == "warning"
    assert line.get("detail")
    assert ("call_id" in line) == call_id_known
    if call_id_known:
        assert line["call_id"] == str(CALL_ID)


async def test_client_that_never_completes_the_uuid_frame_is_closed(start_server: StartServer):
    recorder = Recorder()
    _, port = await start_server(recorder, first_frame_timeout=0.2)
    with capture_logs() as logs:
        reader, writer = await raw_connection(port)
        writer.write(b"\x01")  # one byte, then nothing (one byte a minute)
        frames = await read_until_eof(reader)
    writer.close()
    assert ends_with_hangup(frames)
    [line] = closed_lines(logs)
    assert line["reason"] == "first-frame-timeout"
    assert recorder.calls.empty()


async def test_call_whose_peer_trickles_bytes_without_whole_frames_is_closed(
    start_server: StartServer,
):
    recorder = Recorder()
    _, port = await start_server(recorder, idle_timeout=0.3)
    with capture_logs() as logs:
        reader, writer = await raw_connection(port)
        writer.write(encode_uuid(CALL_ID) + b"\x10\x01")  # half a header, then silence
        frames = await read_until_eof(reader)
    writer.close()
    assert ends_with_hangup(frames)
    [line] = closed_lines(logs)
    assert line["reason"] == "idle-timeout" and line["call_id"] == str(CALL_ID)


async def test_a_bad_connection_does_not_disturb_other_calls(start_server: StartServer):
    recorder = Recorder()
    _, port = await start_server(recorder, first_frame_timeout=0.2)
    good = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID, inactivity_timeout=0.2)
    call = await recorder.next_call()
    playing = asyncio.create_task(call.play(ramp(ONE_SECOND)))
    for data in (b"junk-junk", b"\x10\xff\xff", encode_uuid(uuid.uuid4()) + b"\x7f\x00\x00"):
        reader, writer = await raw_connection(port)
        writer.write(data)
        await read_until_eof(reader)
        writer.close()
    await good.send_dtmf("9")
    assert (await recorder.wait_items(call.uuid, 1))[-1] == Dtmf("9")
    assert await asyncio.wait_for(playing, 5) is True
    assert ramp(ONE_SECOND) in bytes(good.received_audio)
    assert not good.is_closed and call.close_reason is None
    await good.close()


async def test_slow_consumer_loses_audio_but_never_dtmf(start_server: StartServer):
    holder: list[AudioSocketCall] = []
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def slow(call: AudioSocketCall) -> None:
        holder.append(call)
        arrived.set()
        await release.wait()
        async for _ in call.incoming():
            pass

    _, port = await start_server(slow)
    leg = await AudioSocketLeg.connect("127.0.0.1", port, CALL_ID)
    for _ in range(600):
        await leg.send_audio(bytes(320))
    await leg.send_dtmf("0")
    await leg.close()
    await asyncio.wait_for(arrived.wait(), 5)
    call = holder[0]
    await asyncio.wait_for(call.closed.wait(), 5)
    items = [item async for item in call.incoming()]
    assert items[-1] == Dtmf("0")
    assert len(items) == 501 and call.counters.audio_dropped == 100
    release.set()
