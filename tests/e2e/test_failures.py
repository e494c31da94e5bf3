"""The gateway may fail; the 110 line may not. Each test breaks something mid-call."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import yaml

from gateway.demo.rig import Rig
from gateway.pbx_double import PbxDouble
from gateway.settings import Settings
from tests.asr.conftest import ko_model_dir
from tests.e2e.conftest import RigFactory
from tests.e2e.test_call_flows import CAR, _wait_until_async, place, speech_for

LONG = CAR + "，我在门口等了二十分钟了，打了好几个电话都没有人接，车子一直停在这里动都不动" * 3


async def test_gateway_killed_mid_call_lands_in_110(e2e_settings: Settings, tmp_path: Path) -> None:
    """A real gateway process, SIGKILLed while the caller is talking."""
    secret = "test-secret-not-in-repo"
    double = PbxDouble.from_settings(
        e2e_settings,
        users={"gateway": secret},
        audiosocket=(e2e_settings.audiosocket.host, e2e_settings.audiosocket.port),
    )
    await double.start()
    config = e2e_settings.model_copy(
        update={
            "ami": e2e_settings.ami.model_copy(update={"port": double.ami_port}),
            "http": e2e_settings.http.model_copy(update={"port": 0}),
            # the real (Korean) Vosk model, so the dialog is listening when it dies
            "asr": e2e_settings.asr.model_copy(
                update={"model_dir": ko_model_dir().parent, "models": {"zh-CN": "model"}}
            ),
        }
    )
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    env = {**os.environ, "GATEWAY_AMI_SECRET": secret}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "--log-json",
        "run",
        "--config",
        str(path),
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    drain: asyncio.Task[bytes] | None = None
    try:
        await _wait_for_line(proc, b"ami.channels_resynced")  # logged in, table rebuilt
        assert proc.stderr is not None
        drain = asyncio.create_task(proc.stderr.read())  # a full pipe would stall its logging
        call = await double.place_call(
            did="0791110", caller_id="13800000101", audio=speech_for(LONG)
        )
        await call.wait_for_leg(timeout=5)
        await call.leg.wait_audio(8000)  # a prompt is playing to the caller
        proc.send_signal(signal.SIGKILL)
        await call.wait_for_context("route-110", timeout=5)
        assert call.variables.get("GW_ROUTE_REASON") == "gateway-failsafe"
        assert not call.hung_up
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        await double.stop()
        if drain is not None:
            drain.cancel()


async def _wait_for_line(proc: asyncio.subprocess.Process, marker: bytes) -> None:
    assert proc.stderr is not None
    async with asyncio.timeout(20):
        while True:
            line = await proc.stderr.readline()
            if not line:
                raise AssertionError(f"gateway exited before {marker!r}")
            if marker in line:
                return


async def test_gateway_not_running_sends_caller_to_110(e2e_settings: Settings) -> None:
    double = PbxDouble.from_settings(
        e2e_settings,
        users={"gateway": "x"},
        audiosocket=("127.0.0.1", 9),  # nothing there
    )
    await double.start()
    try:
        call = await double.place_call(did="0792110", caller_id="13800000102")
        await call.wait_for_context("route-110", timeout=5)
        assert call.audiosocket_refused and not call.hung_up
        assert call.variables["GW_110_DIAL"].startswith("PJSIP/jiujiang-110/sip:110@")
    finally:
        await double.stop()


async def test_ami_drop_mid_call_is_survived_and_the_call_still_redirects(
    make_rig: RigFactory,
) -> None:
    rig: Rig = await make_rig(scripts={"13800000103": CAR})
    assert rig.double is not None and rig.gateway is not None
    call = await place(rig, "13800000103", CAR)
    await call.wait_for_leg(timeout=5)
    dropped = await rig.double.drop_ami_connections()
    assert dropped >= 1
    await call.wait_for_context("route-12345", timeout=20)
    assert call.variables["GW_CATEGORY"] == "move_car"
    # a new AMI session, whose first act was to rebuild the channel table, moved the call
    assert rig.gateway.ami.sessions >= 2
    actions = rig.double.ami_actions
    redirect = next(a for a in actions if a.name == "Redirect")
    resyncs = [a for a in actions if a.name == "CoreShowChannels" and a.session == redirect.session]
    assert resyncs and resyncs[0].at < redirect.at
    assert redirect.session != actions[0].session


async def test_thirty_concurrent_calls_do_not_interfere(make_rig: RigFactory) -> None:
    fire = "着火了，楼下饭店的厨房冒了好大的烟，火已经烧起来了"
    knife = "救命，有人拿刀在砍我家的门，我躲在卫生间里面"
    kinds = [(CAR, "route-12345"), (fire, "route-119"), (knife, "route-110")]
    scripts = {f"1390000{n:04d}": kinds[n % 3][0] for n in range(30)}
    rig = await make_rig(scripts=scripts)
    calls = await asyncio.gather(
        *(
            place(rig, caller, text, did=("0791110", "0792110", "0793110")[n % 3])
            for n, (caller, text) in enumerate(scripts.items())
        )
    )
    await asyncio.gather(
        *(c.wait_for_context(kinds[n % 3][1], timeout=30) for n, c in enumerate(calls))
    )
    tickets = {c.variables["GW_TICKET"] for c in calls}
    assert len(tickets) == 30
    for call in calls:
        assert call.variables["GW_UUID"] == call.uuid
        assert call.variables["GW_CITY"] in ("nanchang", "jiujiang", "shangrao")
        assert call.variables["GW_DEST"].endswith(
            call.variables["GW_CITY"] + "-" + call.variables["GW_ROUTE"]
        )


async def test_dead_redis_does_not_stop_calls_and_the_ticket_is_saved_later(
    make_rig: RigFactory, e2e_settings: Settings
) -> None:
    from gateway.embedded_redis import EmbeddedRedis

    own = EmbeddedRedis().start()
    try:
        settings = e2e_settings.model_copy(
            update={"redis": e2e_settings.redis.model_copy(update={"url": own.url})}
        )
        rig = await make_rig(scripts={"13800000104": CAR}, settings=settings)
        assert rig.gateway is not None
        own.stop()  # Redis dies before the call
        call = await place(rig, "13800000104", CAR)
        await call.wait_for_context("route-12345", timeout=20)
        ticket_id = call.variables["GW_TICKET"]
        await rig.outcomes.wait_for("13800000104")
        assert [t.id for t in rig.gateway.store.spool] == [ticket_id]

        own.start()  # same port: the store reconnects by itself
        rig.gateway.outbox.wake()

        async def saved() -> bool:
            from gateway.store import StoreUnavailable

            try:
                return await rig.gateway.store.get_ticket(ticket_id) is not None  # type: ignore[union-attr]
            except StoreUnavailable:
                return False

        await _wait_until_async(saved, seconds=15)
    finally:
        own.close()


async def test_hang_up_while_ami_is_down_still_raises_a_callback(make_rig: RigFactory) -> None:
    rig = await make_rig()
    assert rig.double is not None and rig.gateway is not None
    call = await place(rig, "13800000105")
    await call.wait_for_leg(timeout=5)
    await rig.double.set_ami_accepting(False)
    await rig.double.drop_ami_connections()
    await call.hang_up()  # its Hangup event is never delivered
    outcome = await rig.outcomes.wait_for("13800000105")
    assert outcome.callback
    store = rig.gateway.store

    async def has_task() -> bool:
        return any(t["caller"] == "13800000105" for t in await store.list_callbacks())

    await _wait_until_async(has_task)
