"""The demo's scripted callers: what they say, when they press keys, what should happen."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 8000


@dataclass(frozen=True)
class Scenario:
    title: str
    did: str  # which city's 110 number the caller dialled
    caller: str
    text: str  # what the caller says (scripted words; audio is synthesised)
    keys: tuple[tuple[float, str], ...] = ()  # (seconds after answer, digit)
    speak_at: float = 1.0  # seconds after answer the caller starts talking
    expect_route: str = ""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "车堵车库",
        "0791110",
        "13870001001",
        "你好，有辆白色小车堵在我家车库门口，打车上电话没人接，麻烦叫他挪一下",
        expect_route="12345",
    ),
    Scenario(
        "井盖破损",
        "0792110",
        "13870001002",
        "我们小区门口人行道上有个井盖碎了一半，晚上走路容易踩空，想找人来修一下",
        expect_route="12345",
    ),
    Scenario(
        "邻里纠纷",
        "0798110",
        "13870001003",
        "楼上邻居天天半夜拖椅子，跟他讲了好几次也不听，两家吵了好几回，想找人调解",
        expect_route="mediation",
    ),
    Scenario(
        "着火",
        "0799110",
        "13870001004",
        "着火了，我们楼下的饭店厨房冒大烟，火已经烧起来了",
        expect_route="119",
    ),
    Scenario(
        "持刀",
        "0790110",
        "13870001005",
        "救命，有人拿刀在我家门口砍门，我现在躲在卫生间里面",
        expect_route="110",
    ),
    Scenario("无声来电", "0701110", "13870001006", "", expect_route="110"),
    Scenario("按1求助", "0797110", "13870001007", "", keys=((1.5, "1"),), expect_route="110"),
)


def voice_like(seconds: float, *, seed: int = 7) -> bytes:
    """Speech-shaped audio (syllable-rate bursts of harmonics) for the energy detector.

    Not words: with no Chinese model installed the words come from the script.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    pitch = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t) ** 2  # ~8 syllables a second
    noise = rng.normal(0, 0.05, n)
    signal = (voice * envelope + noise) * 4000
    return np.clip(signal, -32767, 32767).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * SAMPLE_RATE) * 2)


def caller_audio(scenario: Scenario, ms_per_char: float) -> bytes:
    """Silence until the caller speaks, speech for the script's length, then silence."""
    if not scenario.text:
        return b""
    speech_seconds = len(scenario.text) * ms_per_char / 1000 + 0.3
    return silence(scenario.speak_at) + voice_like(speech_seconds) + silence(2.0)
