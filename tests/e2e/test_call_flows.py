"""Whole calls through the gateway: what the caller says → where the call lands."""

from __future__ import annotations

import asyncio

from gateway.demo.scenarios import silence, voice_like
from gateway.settings import Settings
from tests.e2e.conftest import MS_PER_CHAR, RigFactory


def speech_for(text: str, *, speak_at: float = 0.2) -> bytes:
    seconds = len(text) * MS_PER_CHAR / 1000 + 0.3
    return silence(speak_at) + voice_like(seconds) + silence(3.0)


CAR = "有辆白色小车堵在我家车库门口，打车上电话没人接，麻烦叫他挪一下"


async def test_car_blocking_garage_is_confirmed_and_lands_in_12345_move_car(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig(scripts={"13800000001": CAR})
    assert rig.double is not None
    call = await rig.double.place_call(
        did="0791110", caller_id="13800000001", audio=speech_for(CAR)
    )
    await call.wait_for_context("route-12345", timeout=15)
    assert call.variables["GW_ROUTE"] == "12345"
    assert call.variables["GW_CATEGORY"] == "move_car"
    assert call.variables["GW_DEST"] == "PJSIP/12345@nanchang-12345"
    assert call.variables["GW_TICKET"]
    assert "%E8%BD%A6" in call.variables["GW_TRANSCRIPT"]  # 车, percent-encoded


async def place(rig: object, caller: str, text: str = "", *, did: str = "0791110", **kw: object):
    double = rig.double  # type: ignore[attr-defined]
    audio = speech_for(text) if text else kw.pop("audio", None)
    return await double.place_call(did=did, caller_id=caller, audio=audio, **kw)


async def test_knife_mid_sentence_routes_to_110_before_the_caller_stops(
    make_rig: RigFactory,
) -> None:
    knife = "救命，有人拿刀在砍我家的门" + "，我现在躲在卫生间里面不敢出去，外面一直在砸东西" * 3
    rig = await make_rig(scripts={"13800000002": knife})
    loop_time = asyncio.get_running_loop().time
    started = loop_time()
    call = await place(rig, "13800000002", knife)
    await call.wait_for_context("route-110", timeout=10)
    routed_after = loop_time() - started
    speech_ends = 0.2 + len(knife) * MS_PER_CHAR / 1000
    assert routed_after < speech_ends - 1.0, (routed_after, speech_ends)
    outcome = await rig.outcomes.wait_for("13800000002")
    assert outcome.reason == "partial-emergency"
    assert call.variables["GW_ROUTE"] == "110"


async def test_key_1_during_greeting_goes_to_110_at_once(make_rig: RigFactory) -> None:
    rig = await make_rig()
    call = await place(rig, "13800000003", dtmf_script=[(0.1, "1")])
    await call.wait_for_context("route-110", timeout=5)
    assert (await rig.outcomes.wait_for("13800000003")).reason == "dtmf-1"
    assert call.variables["GW_ROUTE"] == "110"


async def test_silent_caller_is_reprompted_then_sent_to_110(make_rig: RigFactory) -> None:
    rig = await make_rig()
    call = await place(rig, "13800000004")
    await call.wait_for_context("route-110", timeout=15)
    outcome = await rig.outcomes.wait_for("13800000004")
    assert outcome.reason == "silence"
    assert outcome.decided_after > 2 * 1.5  # greeting timeout twice: re-prompted once


async def test_key_1_during_confirmation_keeps_the_call_on_110(
    make_rig: RigFactory, e2e_settings: Settings
) -> None:
    settings = e2e_settings.model_copy(
        update={"ivr": e2e_settings.ivr.model_copy(update={"confirm_window": 4.0})}
    )
    rig = await make_rig(scripts={"13800000005": CAR}, settings=settings)
    assert rig.gateway is not None
    speech_end = 0.2 + len(CAR) * MS_PER_CHAR / 1000 + 0.3
    # final ~0.8 s after the speech, two 0.4 s confirmation prompts, then a 4 s window
    call = await place(rig, "13800000005", CAR, dtmf_script=[(speech_end + 3.0, "1")])
    await call.wait_for_context("route-110", timeout=15)
    assert "route-12345" not in call.context_history
    assert (await rig.outcomes.wait_for("13800000005")).reason == "dtmf-1"
    await rig.gateway.records.drain()
    record = await rig.gateway.store.get_call(call.uuid)
    assert record is not None
    reached = [e["data"].get("to") for e in record["events"] if e["kind"] == "transition"]
    assert "confirm_window" in reached, reached  # the key came after the question


async def test_neighbour_dispute_goes_to_mediation(make_rig: RigFactory) -> None:
    text = "楼上邻居天天半夜在家拖椅子，跟他讲了好几次也不听，两家为这个吵了好几回"
    rig = await make_rig(scripts={"13800000006": text})
    call = await place(rig, "13800000006", text, did="0792110")
    await call.wait_for_context("route-mediation", timeout=15)
    assert call.variables["GW_DEST"] == "PJSIP/zz@jiujiang-mediation"


async def test_fire_goes_to_119_without_confirmation(make_rig: RigFactory) -> None:
    text = "着火了，楼下饭店的厨房冒了好大的烟，火已经烧起来了"
    rig = await make_rig(scripts={"13800000007": text})
    call = await place(rig, "13800000007", text)
    await call.wait_for_context("route-119", timeout=10)
    assert call.variables["GW_DEST"] == "PJSIP/119@nanchang-119"


async def test_down_12345_trunk_sends_move_car_to_110_with_a_ticket(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig(scripts={"13800000008": CAR})
    assert rig.double is not None and rig.gateway is not None
    rig.double.set_trunk_reachable("nanchang-12345", False)
    await _wait_until(
        lambda: (
            "nanchang-12345" in rig.gateway.trunks.snapshot()  # type: ignore[union-attr]
            and not rig.gateway.trunks.snapshot()["nanchang-12345"].reachable
        )  # type: ignore[union-attr]
    )
    call = await place(rig, "13800000008", CAR)
    await call.wait_for_context("route-110", timeout=15)
    assert "route-12345" not in call.context_history
    ticket_id = call.variables["GW_TICKET"]
    await rig.outcomes.wait_for("13800000008")  # the ticket is saved after the Redirect
    ticket = await rig.gateway.store.get_ticket(ticket_id)
    assert ticket is not None and ticket.route == "110" and ticket.category == "move_car"


async def test_full_12345_trunk_sends_the_call_to_110(make_rig: RigFactory) -> None:
    rig = await make_rig(scripts={"13800000009": CAR})
    assert rig.gateway is not None
    cap = rig.settings.trunks["nanchang-12345"].max_calls
    for n in range(cap):
        rig.gateway.trunks.call_placed("nanchang-12345", f"PJSIP/busy-{n}")
    call = await place(rig, "13800000009", CAR)
    await call.wait_for_context("route-110", timeout=15)
    assert call.variables["GW_ROUTE"] == "110"
    assert "full" in call.variables["GW_ROUTE_REASON"]
    await rig.outcomes.wait_for("13800000009")
    ticket = await rig.gateway.store.get_ticket(call.variables["GW_TICKET"])
    assert ticket is not None and (ticket.route, ticket.category) == ("110", "move_car")
    assert ticket.intended_route == "12345"


async def test_busy_12345_after_redirect_comes_back_to_110_and_ticket_notes_fallback(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig(scripts={"13800000010": CAR})
    assert rig.double is not None and rig.gateway is not None
    rig.double.set_trunk_outcome("nanchang-12345", "BUSY")
    call = await place(rig, "13800000010", CAR)
    await call.wait_for_context("route-110", timeout=15)
    assert call.context_history.index("route-12345") < call.context_history.index("route-110")
    ticket_id = call.variables["GW_TICKET"]

    async def fell_back() -> bool:
        ticket = await rig.gateway.store.get_ticket(ticket_id)  # type: ignore[union-attr]
        return ticket is not None and ticket.route == "110" and ticket.intended_route == "12345"

    await _wait_until_async(fell_back)
    await rig.gateway.records.drain()
    record = await rig.gateway.store.get_call(call.uuid)
    assert record is not None
    dials = [e["data"] for e in record["events"] if e["kind"] == "dial_result"]
    assert {"status": "BUSY", "dialled": dials[0]["dialled"]} in dials


async def test_two_calls_from_different_cities_reach_their_own_trunks(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig(scripts={"13800000011": CAR, "13800000012": CAR})
    a = await place(rig, "13800000011", CAR, did="0791110")
    b = await place(rig, "13800000012", CAR, did="0797110")  # 赣州 is opt-in
    await a.wait_for_context("route-12345", timeout=15)
    assert a.variables["GW_DEST"] == "PJSIP/12345@nanchang-12345"
    await b.wait_for_context("route-110", timeout=20)  # opt-in: no yes → 110
    assert (await rig.outcomes.wait_for("13800000012")).reason == "opt-in-no-answer"


async def test_opt_in_city_diverts_on_explicit_yes_key(
    make_rig: RigFactory, e2e_settings: Settings
) -> None:
    # a wide window, so that the key lands after the question even on a slow machine
    settings = e2e_settings.model_copy(
        update={"ivr": e2e_settings.ivr.model_copy(update={"confirm_window": 4.0})}
    )
    rig = await make_rig(scripts={"13800000013": CAR}, settings=settings)
    speech_end = 0.2 + len(CAR) * MS_PER_CHAR / 1000 + 0.3
    call = await place(
        rig, "13800000013", CAR, did="0797110", dtmf_script=[(speech_end + 3.5, "2")]
    )
    await call.wait_for_context("route-12345", timeout=20)
    assert call.variables["GW_DEST"] == "PJSIP/12345@ganzhou-12345"


async def test_caller_hanging_up_during_ivr_raises_a_callback_task(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    assert rig.gateway is not None
    call = await place(rig, "13800000014")
    await call.wait_for_leg(timeout=5)
    await call.hang_up()
    store = rig.gateway.store

    async def has_task() -> bool:
        tasks = await store.list_callbacks()
        return any(t["caller"] == "13800000014" for t in tasks)

    await _wait_until_async(has_task)
    assert (await rig.outcomes.wait_for("13800000014")).callback


def _no_recogniser(info: object) -> object:
    raise RuntimeError("all recogniser slots busy")


async def test_keypad_path_key_1_reaches_110(make_rig: RigFactory) -> None:
    rig = await make_rig(speech=_no_recogniser)
    call = await place(rig, "13800000015", dtmf_script=[(0.2, "1")])  # during the keypad greeting
    await call.wait_for_context("route-110", timeout=15)
    assert (await rig.outcomes.wait_for("13800000015")).reason == "dtmf-1"


async def test_keypad_path_speech_goes_to_110_as_asr_unavailable(make_rig: RigFactory) -> None:
    rig = await make_rig(speech=_no_recogniser)
    call = await place(rig, "13800000016", CAR)
    await call.wait_for_context("route-110", timeout=15)
    assert (await rig.outcomes.wait_for("13800000016")).reason == "asr-unavailable"


async def _wait_until(predicate) -> None:  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return bool(predicate())

    await _wait_until_async(check)


async def _wait_until_async(check, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Poll state that has no event of its own (store contents), bounded."""
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 - Redis contents raise no event
            await asyncio.sleep(0.02)
