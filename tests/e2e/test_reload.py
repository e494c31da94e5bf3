"""Config reload applies to new calls without touching live ones."""

from __future__ import annotations

from tests.e2e.conftest import RigFactory
from tests.e2e.test_call_flows import CAR, place


async def test_reload_applies_to_the_next_call_and_keeps_connections(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig(scripts={"13800000401": CAR, "13800000402": CAR})
    assert rig.gateway is not None
    first = await place(rig, "13800000401", CAR)
    await first.wait_for_context("route-12345", timeout=15)

    old = rig.gateway.settings
    closed = old.trunks["nanchang-12345"].model_copy(update={"max_calls": 0})
    new = old.model_copy(
        update={
            "trunks": {**old.trunks, "nanchang-12345": closed},
            "ami": old.ami.model_copy(update={"port": 1}),  # needs a restart: not applied
        }
    )
    await rig.gateway.reload(new)
    assert rig.gateway.settings.ami.port == old.ami.port
    assert rig.gateway.settings.trunks["nanchang-12345"].max_calls == 0

    second = await place(rig, "13800000402", CAR)
    await second.wait_for_context("route-110", timeout=15)
    assert "full" in second.variables["GW_ROUTE_REASON"]
