"""Prompt texts and audio: complete, telephone format, in step with their texts, regenerable."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest

from gateway.cli import build_parser
from gateway.configfile import ConfigError
from gateway.settings import IvrSettings, load_settings
from ivr.prompts import (
    REQUIRED_PROMPTS,
    PromptAudioError,
    confirmation_prompt_id,
    load_all_prompt_audio,
    load_prompt_audio,
    load_prompt_catalog,
    load_prompt_file,
)
from ivr.prompts.synthesis import MANIFEST, espeak_binary, espeak_version, spoken_text
from ivr.prompts_cli import default_out, default_texts, stale_prompts

TEXTS = default_texts("zh-CN")
AUDIO = default_out("zh-CN")
ROOT = Path(__file__).resolve().parents[2]
SERVICE_CATEGORIES = {
    "12345": [
        "move_car",
        "noise",
        "municipal",
        "utilities",
        "consumer",
        "labour",
        "policy",
        "environment",
        "property",
        "traffic_admin",
    ],
    "mediation": ["neighbour", "family", "tenancy", "other_dispute"],
}
HAS_ESPEAK = shutil.which("espeak-ng") is not None


def _write_wav(path: Path, *, rate: int = 8000, channels: int = 1, width: int = 2) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(b"\x01" * channels * width * 800)


# ----------------------------------------------------------------------------- committed audio


def test_every_prompt_text_has_committed_telephone_audio() -> None:
    prompt_file = load_prompt_file(TEXTS)
    audio = load_all_prompt_audio(AUDIO, prompt_file.prompts)
    assert set(audio) == set(prompt_file.prompts)
    for prompt_id, pcm in audio.items():
        seconds = len(pcm) / 16000
        assert 0.5 < seconds < 10, (prompt_id, seconds)


def test_committed_audio_was_generated_from_the_current_texts() -> None:
    texts = load_prompt_file(TEXTS).prompts
    assert stale_prompts(texts, AUDIO / MANIFEST) == []
    assert sorted(p.stem for p in AUDIO.glob("*.wav")) == sorted(texts)


def test_committed_prompt_audio_stays_small() -> None:
    total = sum(p.stat().st_size for p in AUDIO.glob("*.wav"))
    assert total < 3 * 1024 * 1024


def test_every_service_category_has_its_own_confirmation_naming_the_destination() -> None:
    catalog = load_prompt_catalog(TEXTS)
    for route, categories in SERVICE_CATEGORIES.items():
        for category in categories:
            prompt_id = confirmation_prompt_id(route, category)
            assert prompt_id in catalog, prompt_id
            assert ("12345" if route == "12345" else "综治中心") in catalog[prompt_id]


def test_main_config_points_at_the_committed_prompts() -> None:
    ivr = load_settings().ivr
    assert (ROOT / ivr.prompts_file).resolve() == TEXTS.resolve()
    assert (ROOT / ivr.prompts_dir).resolve() == AUDIO.resolve()
    assert IvrSettings().prompts_file == Path("configs/prompts/zh-CN.yaml")


def test_catalog_reads_prompt_durations_from_the_audio() -> None:
    catalog = load_prompt_catalog(TEXTS, AUDIO)
    greeting = catalog.duration("greeting")
    assert greeting is not None
    assert greeting == pytest.approx(len(load_prompt_audio(AUDIO, "greeting")) / 16000)


# ----------------------------------------------------------------------------- bad audio


def test_prompt_audio_in_the_wrong_format_is_refused_with_what_is_wrong(tmp_path: Path) -> None:
    _write_wav(tmp_path / "greeting.wav", rate=44100, channels=2)
    with pytest.raises(PromptAudioError, match=r"greeting\.wav: 2 channel\(s\), 16-bit, 44100 Hz"):
        load_prompt_audio(tmp_path, "greeting")


def test_eight_bit_prompt_audio_is_refused(tmp_path: Path) -> None:
    _write_wav(tmp_path / "reprompt.wav", width=1)
    with pytest.raises(PromptAudioError, match="8-bit, 8000 Hz"):
        load_prompt_audio(tmp_path, "reprompt")


def test_missing_prompt_audio_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(PromptAudioError, match=r"missing .*gateway prompts generate"):
        load_prompt_audio(tmp_path, "greeting")


def test_a_file_that_is_not_wav_is_refused(tmp_path: Path) -> None:
    (tmp_path / "greeting.wav").write_bytes(b"ID3\x03 not a wav at all")
    with pytest.raises(PromptAudioError, match="not a PCM WAV"):
        load_prompt_audio(tmp_path, "greeting")


def test_a_prompt_id_cannot_reach_outside_the_prompt_directory(tmp_path: Path) -> None:
    with pytest.raises(PromptAudioError, match="not a prompt id"):
        load_prompt_audio(tmp_path, "../../etc/passwd")


def test_loading_all_prompts_reports_every_bad_file_at_once(tmp_path: Path) -> None:
    _write_wav(tmp_path / "greeting.wav")
    _write_wav(tmp_path / "reprompt.wav", rate=16000)
    with pytest.raises(PromptAudioError) as caught:
        load_all_prompt_audio(tmp_path, ["greeting", "reprompt", "transfer_110"])
    assert "reprompt.wav" in str(caught.value) and "transfer_110.wav" in str(caught.value)


# ----------------------------------------------------------------------------- bad texts


def test_prompt_texts_missing_a_required_prompt_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "xx.yaml"
    path.write_text("language: zh-CN\nprompts:\n  greeting: 你好\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_prompt_file(path)
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "prompts")
    assert "reprompt" in problem.reason


def test_prompt_texts_refuse_bad_ids_empty_and_overlong_texts(tmp_path: Path) -> None:
    prompts = {p: "请说" for p in REQUIRED_PROMPTS}
    prompts |= {"Bad-Id": "x", "confirm_12345_noise": " ", "confirm_12345_labour": "长" * 81}
    body = "\n".join(f"  {k}: '{v}'" for k, v in prompts.items())
    path = tmp_path / "zh-CN.yaml"
    path.write_text(f"language: zh-CN\nprompts:\n{body}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_prompt_file(path)
    reason = caught.value.problems[0].reason
    assert "'Bad-Id' is not a prompt id" in reason
    assert "confirm_12345_noise: empty text" in reason
    assert "confirm_12345_labour: 81 characters" in reason


def test_unknown_keys_in_the_prompt_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "zh-CN.yaml"
    path.write_text(TEXTS.read_text(encoding="utf-8") + "volume: 11\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="volume"):
        load_prompt_file(path)


# ----------------------------------------------------------------------------- generation


def test_phone_numbers_are_read_digit_by_digit_and_keys_plainly() -> None:
    assert spoken_text("这里是110，请按1", "zh-CN") == "这里是幺幺零，请按一"
    assert spoken_text("转接12345热线，或按2", "zh-CN") == "转接幺二三四五热线，或按二"
    assert spoken_text("press 1", "en-US") == "press 1"


def test_prompts_command_is_registered_on_the_gateway_cli() -> None:
    args = build_parser().parse_args(["prompts", "generate", "--lang", "zh-CN", "--out", "/x"])
    assert args.out == Path("/x") and callable(args.func)


def test_generate_without_espeak_fails_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on this PATH
    args = build_parser().parse_args(["prompts", "generate", "--out", str(tmp_path / "out")])
    assert args.func(args) == 1
    error = capsys.readouterr().err
    assert "espeak-ng is not installed" in error and "ivr.prompts_dir" in error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_generate_refuses_invalid_texts_before_synthesising(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = tmp_path / "bad.yaml"
    texts.write_text("language: zh-CN\nprompts: {}\n", encoding="utf-8")
    args = build_parser().parse_args(
        ["prompts", "generate", "--texts", str(texts), "--out", str(tmp_path / "out")]
    )
    assert args.func(args) == 2
    assert "missing required prompts" in capsys.readouterr().err


def test_prompts_check_accepts_the_committed_prompts(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["prompts", "check"])
    assert args.func(args) == 0, capsys.readouterr().err


def test_prompts_check_flags_audio_older_than_its_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = tmp_path / "zh-CN.yaml"
    texts.write_text(
        TEXTS.read_text(encoding="utf-8").replace("您好，这里是110", "您好，这里是110报警台"),
        encoding="utf-8",
    )
    args = build_parser().parse_args(["prompts", "check", "--texts", str(texts)])
    assert args.func(args) == 1
    assert "greeting" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_ESPEAK, reason="espeak-ng not installed on this machine")
def test_generation_is_reproducible_byte_for_byte(tmp_path: Path) -> None:
    small = tmp_path / "zh-CN.yaml"
    texts = load_prompt_file(TEXTS)
    required = {p: texts.prompts[p] for p in REQUIRED_PROMPTS}
    body = "\n".join(f"  {k}: '{v}'" for k, v in required.items())
    small.write_text(f"language: zh-CN\nspeed: {texts.speed}\nprompts:\n{body}\n", "utf-8")
    for out in ("a", "b"):
        args = build_parser().parse_args(
            ["prompts", "generate", "--texts", str(small), "--out", str(tmp_path / out)]
        )
        assert args.func(args) == 0
    for prompt_id in REQUIRED_PROMPTS:
        first = (tmp_path / "a" / f"{prompt_id}.wav").read_bytes()
        assert first == (tmp_path / "b" / f"{prompt_id}.wav").read_bytes()
        load_prompt_audio(tmp_path / "a", prompt_id)
    manifest = json.loads((AUDIO / MANIFEST).read_text(encoding="utf-8"))
    if manifest["generator"] == espeak_version(espeak_binary()):
        # Same synthesiser as the committed files: the committed bytes are reproduced.
        assert (tmp_path / "a" / "greeting.wav").read_bytes() == (
            AUDIO / "greeting.wav"
        ).read_bytes()
