"""The energy gate decides what Vosk decodes: speech, its pre-roll and the endpoint's silence."""

from __future__ import annotations

import numpy as np

from gateway.asr.gate import EnergyGate, GatedAudio, frame_rms

FRAME = 320


def tone(seconds: float, amplitude: int = 4000) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


def quiet(seconds: float) -> bytes:
    return b"\0\0" * int(8000 * seconds)


def push_all(gate: EnergyGate, pcm: bytes, size: int = FRAME) -> list[GatedAudio]:
    out = [gate.push(pcm[i : i + size]) for i in range(0, len(pcm), size)]
    return [o for o in out if o is not None]


def gate(**kw: float) -> EnergyGate:
    options = {"threshold": 300.0, "endpoint_silence": 0.8, "preroll": 0.2, "hangover": 0.3}
    options.update(kw)
    return EnergyGate(**options)  # type: ignore[arg-type]


def test_silence_never_reaches_the_recogniser() -> None:
    g = gate()
    assert push_all(g, quiet(5.0)) == []
    assert not g.is_open
    assert abs(g.clock - 5.0) < 1e-9


def test_quiet_noise_below_threshold_stays_gated() -> None:
    rng = np.random.default_rng(1)
    noise = (rng.normal(0, 60, 8000 * 2)).astype("<i2").tobytes()
    assert frame_rms(noise) < 300
    assert push_all(gate(), noise) == []


def test_speech_onset_passes_the_preroll_with_its_true_start_time() -> None:
    g = gate()
    out = push_all(g, quiet(1.0) + tone(0.1))
    assert out[0].start == 0.8  # 200 ms of pre-roll before the onset at 1.0 s
    assert len(out[0].audio) == (10 + 1) * FRAME  # pre-roll frames + the first loud frame
    assert g.is_open


def test_trailing_silence_is_fed_until_the_endpoint_then_a_final_is_requested() -> None:
    g = gate()
    out = push_all(g, tone(0.5) + quiet(2.0))
    finals = [o for o in out if o.finalize]
    assert len(finals) == 1
    fed_silence = sum(len(o.audio) for o in out) / 2 / 8000 - 0.5
    assert abs(fed_silence - 0.8) < 0.021  # exactly the endpoint's silence, not the rest
    assert finals[0] is out[-1]
    assert not g.is_open


def test_a_pause_shorter_than_the_endpoint_keeps_one_utterance() -> None:
    out = push_all(gate(), tone(0.5) + quiet(0.5) + tone(0.5) + quiet(1.0))
    assert sum(o.finalize for o in out) == 1


def test_odd_and_uneven_frame_sizes_keep_the_call_clock_exact() -> None:
    g = gate()
    pcm = quiet(0.3) + tone(0.3) + quiet(1.0)
    sizes = [320, 480, 7, 161, 1]
    pos = 0
    fed = 0
    index = 0
    while pos < len(pcm):
        size = sizes[index % len(sizes)]
        out = g.push(pcm[pos : pos + size])
        fed += len(out.audio) if out else 0
        pos += size
        index += 1
    assert abs(g.clock - len(pcm) / 2 / 8000) < 1e-9
    assert fed % 2 == 0


def test_speaking_flag_holds_for_the_hangover_only() -> None:
    g = gate(hangover=0.3)
    push_all(g, tone(0.2))
    assert g.speaking
    push_all(g, quiet(0.2))
    assert g.speaking
    push_all(g, quiet(0.2))
    assert not g.speaking


def test_without_preroll_only_the_loud_audio_opens_the_gate() -> None:
    g = gate(preroll=0.0)
    out = push_all(g, quiet(0.5) + tone(0.1))
    assert out[0].start == 0.5
    assert len(out[0].audio) == FRAME
