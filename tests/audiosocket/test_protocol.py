"""AudioSocket framing, checked against byte-exact captures from a real Asterisk 22.10.1."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.audiosocket.call import prompt_frames
from gateway.audiosocket.protocol import (
    HANGUP_FRAME,
    Frame,
    FrameDecoder,
    Kind,
    ProtocolError,
    encode,
    encode_audio,
    encode_dtmf,
    encode_uuid,
    parse_dtmf,
    parse_uuid,
)

# ---------------------------------------------------------------- helpers


def decode_all(data: bytes, max_payload: int = 4096) -> list[Frame]:
    return FrameDecoder(max_payload).feed(data)


def decode_in_pieces(data: bytes, cuts: list[int], max_payload: int = 4096) -> list[Frame]:
    decoder = FrameDecoder(max_payload)
    frames: list[Frame] = []
    previous = 0
    for cut in [*sorted(cuts), len(data)]:
        frames += decoder.feed(data[previous:cut])
        previous = cut
    assert decoder.pending == 0
    return frames


def logged_frames(frames_txt: Path, direction: str) -> list[tuple[int, int, str]]:
    """(kind, length, note) for every frame line of one direction in a *.frames.txt log."""
    rows = []
    for line in frames_txt.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split(None, 5)
        if fields[1] != direction:
            continue
        note = fields[5] if len(fields) > 5 else ""
        rows.append((int(fields[2], 16), int(fields[4]), note.strip()))
    return rows


# ---------------------------------------------------------------- encoding


def test_frames_are_kind_then_big_endian_length_then_payload():
    assert encode_audio(b"\x01\x02") == b"\x10\x00\x02\x01\x02"
    assert encode(Kind.AUDIO, bytes(320))[:3] == b"\x10\x01\x40"
    assert HANGUP_FRAME == b"\x00\x00\x00"
    assert encode_dtmf("#") == b"\x03\x00\x01#"


def test_uuid_frame_carries_sixteen_binary_bytes_and_parses_to_lower_case_text():
    call_id = uuid.UUID("4DBEE5EE-6AD7-40B2-93E3-777F63539183")
    frame = encode_uuid(call_id)
    assert frame[:3] == b"\x01\x00\x10" and frame[3:] == call_id.bytes
    assert parse_uuid(frame[3:]) == "4dbee5ee-6ad7-40b2-93e3-777f63539183"


def test_uuid_payload_of_wrong_length_is_a_protocol_error():
    with pytest.raises(ProtocolError) as info:
        parse_uuid(b"4dbee5ee-6ad7-40b2-93e3-777f63539183")  # the text form, 36 bytes
    assert info.value.reason == "bad-uuid"


def test_dtmf_payload_must_be_one_digit():
    assert parse_dtmf(b"5") == "5"
    assert parse_dtmf(b"a") == "A"
    for bad in (b"", b"12", b"x", b"\x00"):
        with pytest.raises(ProtocolError) as info:
            parse_dtmf(bad)
        assert info.value.reason == "bad-dtmf"


def test_encoder_refuses_a_payload_that_does_not_fit_the_length_field():
    with pytest.raises(ValueError):
        encode_audio(bytes(70000))


def test_prompt_frames_are_full_320_byte_frames_with_the_last_padded_with_silence():
    pcm = bytes(range(256)) * 3  # 768 bytes: 2 full frames + 128 bytes
    frames = prompt_frames(pcm, 320)
    assert [len(f) for f in frames] == [323, 323, 323]
    decoded = decode_all(b"".join(frames))
    assert b"".join(f.payload for f in decoded)[:768] == pcm
    assert decoded[-1].payload[128:] == bytes(192)


def test_prompt_of_odd_length_is_refused():
    with pytest.raises(ValueError):
        prompt_frames(b"\x00\x01\x02", 320)


# ---------------------------------------------------------------- decoding


def test_decoder_joins_a_frame_split_across_reads():
    data = encode_uuid(uuid.uuid4()) + encode_audio(bytes(480)) + encode_dtmf("1")
    for cut in range(len(data)):
        assert decode_in_pieces(data, [cut]) == decode_all(data)


@given(
    payloads=st.lists(st.binary(max_size=600), max_size=12),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_decoder_output_does_not_depend_on_how_the_stream_is_cut(payloads, seed):
    data = b"".join(encode_audio(p) for p in payloads)
    rng = random.Random(seed)
    cuts = [rng.randrange(len(data) + 1) for _ in range(rng.randrange(8))]
    frames = decode_in_pieces(data, cuts, max_payload=600)
    assert [f.payload for f in frames] == payloads


def test_decoder_rejects_bytes_that_are_not_frames():
    with pytest.raises(ProtocolError) as info:
        FrameDecoder(4096).feed(b"GET / HTTP/1.1\r\n\r\n")
    assert info.value.reason == "unknown-kind"


def test_decoder_rejects_an_oversized_payload_from_its_header_alone():
    decoder = FrameDecoder(4096)
    with pytest.raises(ProtocolError) as info:
        decoder.feed(b"\x10\xff\xff")  # no payload sent yet: refused before buffering it
    assert info.value.reason == "payload-too-large"


def test_decoder_keeps_frames_decoded_before_the_bad_one():
    good = encode_dtmf("7")
    with pytest.raises(ProtocolError) as info:
        FrameDecoder(4096).feed(good + b"\x42\x00\x00")
    assert info.value.frames_before == [Frame(Kind.DTMF, b"7")]


def test_decoder_stays_failed_after_an_error():
    decoder = FrameDecoder(4096)
    with pytest.raises(ProtocolError):
        decoder.feed(b"\x42\x00\x00")
    with pytest.raises(ProtocolError):
        decoder.feed(encode_audio(b"\x00\x00"))


# ---------------------------------------------------------------- real Asterisk captures


@pytest.mark.parametrize("scenario", ["05-full-call-flow", "15-sip-call-audiosocket"])
def test_captured_asterisk_stream_decodes_to_the_logged_frames_however_it_is_split(
    transcripts: Path, scenario: str
):
    data = (transcripts / f"{scenario}.audiosocket.rx.bin").read_bytes()
    logged = logged_frames(transcripts / f"{scenario}.audiosocket.frames.txt", "RX")
    rng = random.Random(scenario)
    for _ in range(5):
        cuts = [rng.randrange(len(data)) for _ in range(rng.randrange(1, 400))]
        frames = decode_in_pieces(data, cuts)
        assert [(f.kind, len(f.payload)) for f in frames] == [(k, n) for k, n, _ in logged]
    # The notes name the uuid and every digit: check the payloads say the same.
    notes = iter(note for kind, _, note in logged if kind in (Kind.UUID, Kind.DTMF))
    for frame in frames:
        if frame.kind == Kind.UUID:
            assert next(notes) == f"uuid={parse_uuid(frame.payload)}"
        elif frame.kind == Kind.DTMF:
            assert next(notes) == f"digit='{parse_dtmf(frame.payload)}'"


def test_sip_caller_audio_arrives_in_480_byte_frames(transcripts: Path):
    data = (transcripts / "15-sip-call-audiosocket.audiosocket.rx.bin").read_bytes()
    sizes = {len(f.payload) for f in decode_all(data) if f.kind == Kind.AUDIO}
    assert sizes == {480}


def test_asterisk_accepted_server_streams_of_320_byte_audio_ending_in_hangup(transcripts: Path):
    """The framing our server emits must be the one Asterisk took in 05 and 10."""
    accepted = decode_all((transcripts / "10-audiosocket-echo.audiosocket.tx.bin").read_bytes())
    assert {(f.kind, len(f.payload)) for f in accepted[:-1]} == {(Kind.AUDIO, 320)}
    assert accepted[-1] == Frame(Kind.HANGUP, b"")
    ours = decode_all(b"".join(prompt_frames(bytes(8000), 320)) + HANGUP_FRAME)
    assert {(f.kind, len(f.payload)) for f in ours[:-1]} == {(Kind.AUDIO, 320)}
    assert ours[-1] == accepted[-1]
