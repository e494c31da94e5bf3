"""The AMI framing: whole-line UTF-8, malformed input logged and skipped, never fatal."""

from __future__ import annotations

import structlog

from gateway.ami.protocol import MessageParser, encode_message, first


def _messages(parser: MessageParser, *chunks: bytes) -> list[list[tuple[str, str]]]:
    out = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out


def test_chinese_value_split_inside_a_character_survives() -> None:
    data = encode_message([("Event", "VarSet"), ("Variable", "GW_NAME"), ("Value", "张三丰")])
    cut = data.index("张".encode()) + 1  # in the middle of a 3-byte character
    messages = _messages(MessageParser(), data[:cut], data[cut:])
    assert first(messages[0], "Value") == "张三丰"


def test_every_split_point_gives_the_same_messages() -> None:
    data = encode_message([("Response", "Success"), ("Value", "南昌市 红谷滩")]) * 2
    whole = MessageParser().feed(data)
    for cut in range(1, len(data)):
        assert _messages(MessageParser(), data[:cut], data[cut:]) == whole


def test_empty_values_are_kept_as_empty_strings() -> None:
    [message] = MessageParser().feed(b"Response: Success\r\nVariable: X\r\nValue: \r\n\r\n")
    assert message == [("Response", "Success"), ("Variable", "X"), ("Value", "")]


def test_banner_is_read_once_and_not_taken_for_a_message() -> None:
    parser = MessageParser(expect_banner=True)
    messages = parser.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\n")
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert messages == [[("Response", "Success")]]


def test_garbage_line_is_logged_and_skipped() -> None:
    with structlog.testing.capture_logs() as logs:
        [message] = MessageParser().feed(b"Event: A\r\n\x01garbage without colon\r\nX: 1\r\n\r\n")
    assert message == [("Event", "A"), ("X", "1")]
    assert any(entry["event"] == "ami.malformed_line" for entry in logs)


def test_missing_blank_line_splits_the_two_messages() -> None:
    data = b"Event: A\r\nX: 1\r\nEvent: B\r\nY: 2\r\n\r\n"
    with structlog.testing.capture_logs() as logs:
        messages = MessageParser().feed(data)
    assert [first(m, "Event") for m in messages] == ["A", "B"]
    assert any(entry["event"] == "ami.missing_blank_line" for entry in logs)


def test_originate_response_event_is_not_split_at_its_response_header() -> None:
    data = b"Event: OriginateResponse\r\nActionID: 1\r\nResponse: Failure\r\nReason: 5\r\n\r\n"
    [message] = MessageParser().feed(data)
    assert first(message, "Reason") == "5"


def test_huge_header_is_dropped_with_its_message_and_parsing_goes_on() -> None:
    parser = MessageParser(max_line_bytes=1024)
    huge = b"Event: Big\r\nValue: " + b"x" * 5000
    with structlog.testing.capture_logs() as logs:
        first_part = parser.feed(huge)
        rest = parser.feed(b"x" * 5000 + b"\r\n\r\nEvent: Next\r\n\r\n")
    assert first_part == []
    assert rest == [[("Event", "Next")]]
    assert len(parser._buffer) == 0
    assert {"ami.line_too_long", "ami.message_dropped"} <= {e["event"] for e in logs}


def test_truncated_message_is_reported_as_pending() -> None:
    parser = MessageParser()
    assert parser.feed(b"Event: Hangup\r\nChannel: PJSIP/x") == []
    assert parser.pending_bytes() > 0


def test_encoder_writes_crlf_and_a_blank_line() -> None:
    assert encode_message([("Action", "Ping"), ("ActionID", "1")]) == (
        b"Action: Ping\r\nActionID: 1\r\n\r\n"
    )
