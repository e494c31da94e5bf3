import numpy as np

from gateway.vad import EnergyDetector, frame_rms


def tone(ms: int, amplitude: int = 3000) -> bytes:
    t = np.arange(ms * 8) / 8000
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


def silence(ms: int) -> bytes:
    return bytes(ms * 16)


def test_silence_has_zero_energy_and_tone_has_energy() -> None:
    assert frame_rms(silence(20)) == 0.0
    assert 2000 < frame_rms(tone(20)) < 2200


def test_speech_starts_after_attack_and_stops_after_hangover() -> None:
    vad = EnergyDetector(threshold=500, attack_ms=60, hangover_ms=300)
    events = [vad.update(tone(20)) for _ in range(3)]
    assert events == [None, None, True]
    stops = [vad.update(silence(20)) for _ in range(15)]
    assert stops[-1] is False and stops.count(False) == 1


def test_one_loud_frame_is_not_barge_in() -> None:
    vad = EnergyDetector(threshold=500, attack_ms=60)
    assert vad.update(tone(20)) is None
    assert vad.update(silence(20)) is None
    assert not vad.speaking


def test_frame_size_does_not_matter_480_byte_sip_frames() -> None:
    vad = EnergyDetector(threshold=500, attack_ms=60)
    assert vad.update(tone(30)) is None
    assert vad.update(tone(30)) is True
