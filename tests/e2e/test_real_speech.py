"""The audio path with a real recogniser: AudioSocket frames → energy gate → Vosk (the
Korean small model, the only one installable here) → dialog → triage → hand-off."""

from __future__ import annotations

from typing import Any

from gateway.demo.scenarios import silence
from tests.asr.conftest import LoadedModel, make_engine, read_wav, vosk_ko_model
from tests.e2e.conftest import RigFactory
from tests.e2e.test_call_flows import place

__all__ = ["vosk_ko_model"]  # the session fixture, shared with tests/asr


async def test_real_vosk_transcribes_the_callers_audio_and_doubt_goes_to_110(
    make_rig: RigFactory, vosk_ko_model: LoadedModel
) -> None:
    engine = make_engine(vosk_ko_model)

    def open_stream(info: Any) -> Any:
        return engine.open_stream(info.call_id)

    try:
        rig = await make_rig(speech=open_stream)
        assert rig.gateway is not None
        audio = silence(0.3) + read_wav("fire_ko.wav") + silence(2.5)
        call = await place(rig, "13800000301", audio=audio)
        await call.wait_for_context("route-110", timeout=30)
        outcome = await rig.outcomes.wait_for("13800000301")
        # Korean words are not a Chinese description: nothing usable → 110, with them attached
        assert outcome.destination is not None and outcome.destination.route == "110"
        assert outcome.transcript.strip(), "the recogniser heard nothing"
        await rig.gateway.records.drain()
        record = await rig.gateway.store.get_call(call.uuid)
        assert record is not None
        kinds = [event["kind"] for event in record["events"]]
        assert "final" in kinds and "decision" in kinds
    finally:
        await engine.close()
