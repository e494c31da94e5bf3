"""The double answers the captured client bytes with the captured server bytes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from gateway.ami.protocol import MessageParser, Pairs, encode_message, first
from gateway.pbx_double import PbxDouble

# Fields that differ from run to run (index.md); everything else must match byte for byte.
_VOLATILE = [
    (re.compile(rb"^(Uptime|LastReload): \d+\r$", re.M), rb"\1: N\r"),
    (re.compile(rb"^(EventTV|SessionTV): [^\r]*\r$", re.M), rb"\1: T\r"),
    (re.compile(rb"^SessionID: [^\r]*\r$", re.M), rb"SessionID: S\r"),
    (re.compile(rb"^(LocalAddress|RemoteAddress): (IPV4/TCP/[\d.]+)/\d+\r$", re.M), rb"\1: \2/P\r"),
    (re.compile(rb"^Timestamp: [\d.]+\r$", re.M), rb"Timestamp: T\r"),
]
_PORT = re.compile(rb"^(LocalAddress: IPV4/TCP/127\.0\.0\.1)/\d+", re.M)


def normalise(data: bytes) -> bytes:
    for pattern, replacement in _VOLATILE:
        data = pattern.sub(replacement, data)
    return data


async def replay(port: int, tx: bytes, expected_messages: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(tx)
    received = bytearray()
    async with asyncio.timeout(5):
        while received.count(b"\r\n\r\n") < expected_messages:
            data = await reader.read(65536)
            if not data:
                break
            received += data
        if received.count(b"\r\n\r\n") >= expected_messages:
            # Nothing more may follow within a moment (e.g. events after Events: off).
            try:
                async with asyncio.timeout(0.1):
                    received += await reader.read(65536)
            except TimeoutError:
                pass
    writer.close()
    return bytes(received)


@pytest.mark.parametrize(
    "scenario",
    [
        "01-login-logoff.ami",
        "02-login-failures.ami.badsecret",
        "02-login-failures.ami.nouser",
        "02-login-failures.ami.nologinheaders",
        "03-actions-before-login.ami",
        "04-responses-no-call.ami",
    ],
)
async def test_double_replays_capture_byte_for_byte(
    scenario: str, transcripts: Path, double: PbxDouble
) -> None:
    tx = (transcripts / f"{scenario}.tx.txt").read_bytes()
    rx = (transcripts / f"{scenario}.rx.txt").read_bytes()
    got = await replay(double.ami_port, tx, rx.count(b"\r\n\r\n"))
    assert normalise(got) == normalise(rx)


async def test_failed_login_closes_the_connection(double: PbxDouble) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", double.ami_port)
    writer.write(
        encode_message(
            [("Action", "Login"), ("Username", "gateway"), ("Secret", "nope"), ("ActionID", "x")]
        )
    )
    async with asyncio.timeout(5):
        data = await reader.read()  # until EOF: the server hangs up
    assert data.endswith(b"Message: Authentication failed\r\n\r\n")
    writer.close()


async def test_failed_login_is_answered_after_about_one_second_by_default() -> None:
    pbx = PbxDouble()  # the real Asterisk's delay (scenario 02)
    await pbx.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", pbx.ami_port)
        await reader.readline()  # banner
        writer.write(encode_message([("Action", "Login"), ("Username", "x"), ("Secret", "y")]))
        loop = asyncio.get_running_loop()
        sent = loop.time()
        async with asyncio.timeout(5):
            data = await reader.read()
        assert b"Authentication failed" in data
        assert 0.9 <= loop.time() - sent < 2.0
        writer.close()
    finally:
        await pbx.stop()


def _shape(message: Pairs) -> tuple[str, ...]:
    keys = tuple(k for k, _ in message)
    if "UserEvent" in keys:  # the fields after UserEvent are the sender's own
        keys = keys[: keys.index("UserEvent") + 1]
    return keys


def _shapes(path: Path) -> dict[str, set[tuple[str, ...]]]:
    shapes: dict[str, set[tuple[str, ...]]] = {}
    for message in MessageParser(expect_banner=True).feed(path.read_bytes()):
        name = first(message, "Event")
        if name:
            shapes.setdefault(name, set()).add(_shape(message))
    return shapes


async def test_call_events_have_the_captured_header_order(
    transcripts: Path, double: PbxDouble
) -> None:
    captured: dict[str, set[tuple[str, ...]]] = {}
    for name in (
        "05-full-call-flow",
        "06-hangup-action",
        "12-originate-variants",
        "14-sip-call-record",
        "11-audiosocket-connect-refused",
    ):
        for event, shapes in _shapes(transcripts / f"{name}.ami.rx.txt").items():
            captured.setdefault(event, set()).update(shapes)
    reader, writer = await asyncio.open_connection("127.0.0.1", double.ami_port)
    writer.write(
        encode_message([("Action", "Login"), ("Username", "gateway"), ("Secret", "gateway-secret")])
    )
    double.set_trunk_outcome("nanchang-12345", "BUSY")
    call = await double.place_call(did="0791110", caller_id="13812345678", caller_name="张三")
    await call.wait_for_leg(5)
    await call.send_dtmf("1")
    double.set_channel_variable(call.channel, "GW_DEST", "PJSIP/12345@nanchang-12345")
    call.redirect("route-12345", "s", 1)
    await call.wait_for(lambda: len(call.dial_attempts) >= 2, 5, "two dials")
    await call.hang_up()
    parser = MessageParser(expect_banner=True)
    seen: list[Pairs] = []
    async with asyncio.timeout(5):
        while not any(
            first(m, "Event") == "Hangup" and first(m, "Channel") == call.name for m in seen
        ):
            seen += parser.feed(await reader.read(65536))
    writer.close()
    checked = set()
    for message in seen:
        name = first(message, "Event")
        if name in captured:
            assert _shape(message) in captured[name], name
            checked.add(name)
    assert {
        "Newchannel",
        "Newexten",
        "VarSet",
        "Newstate",
        "UserEvent",
        "DTMFBegin",
        "DTMFEnd",
        "DialBegin",
        "DialEnd",
        "Hangup",
        "HangupRequest",
        "SoftHangupRequest",
    } <= checked
