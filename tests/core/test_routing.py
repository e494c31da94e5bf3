from datetime import time

import pytest

from gateway.routing import RoutingPolicy, TrunkState, in_hours
from gateway.settings import Settings, load_settings


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="module")
def policy(settings: Settings) -> RoutingPolicy:
    return RoutingPolicy(settings)


NOON = time(12, 0)
# every trunk qualified Reachable by Asterisk (health unknown is a separate case below)
UP = {name: TrunkState(reachable=True) for name in load_settings().trunks}


def test_move_car_in_nanchang_goes_to_nanchang_12345(policy: RoutingPolicy) -> None:
    dest = policy.decide(
        city_code="nanchang", route="12345", category="move_car", at=NOON, trunks=UP
    )
    assert (dest.route, dest.trunk, dest.context) == ("12345", "nanchang-12345", "route-12345")
    assert dest.dial == "PJSIP/12345@nanchang-12345"
    assert not dest.fell_back


def test_two_cities_reach_their_own_trunks(policy: RoutingPolicy) -> None:
    a = policy.decide(
        city_code="nanchang", route="mediation", category="neighbour", at=NOON, trunks=UP
    )
    b = policy.decide(
        city_code="jiujiang", route="mediation", category="neighbour", at=NOON, trunks=UP
    )
    assert a.trunk == "nanchang-mediation" and b.trunk == "jiujiang-mediation"


def test_down_12345_trunk_falls_back_to_110_with_reason(policy: RoutingPolicy) -> None:
    trunks = {**UP, "nanchang-12345": TrunkState(reachable=False)}
    dest = policy.decide(
        city_code="nanchang", route="12345", category="noise", at=NOON, trunks=trunks
    )
    assert dest.route == "110" and dest.trunk == "nanchang-110"
    assert dest.wanted_route == "12345" and dest.fell_back
    assert "down" in dest.reason


def test_full_trunk_falls_back_to_110(policy: RoutingPolicy, settings: Settings) -> None:
    cap = settings.trunks["nanchang-12345"].max_calls
    trunks = {**UP, "nanchang-12345": TrunkState(reachable=True, active_calls=cap)}
    dest = policy.decide(
        city_code="nanchang", route="12345", category="move_car", at=NOON, trunks=trunks
    )
    assert dest.route == "110" and "full" in dest.reason


def test_mediation_out_of_hours_falls_back_to_110(policy: RoutingPolicy) -> None:
    dest = policy.decide(
        city_code="jiujiang", route="mediation", category="family", at=time(23, 30), trunks=UP
    )
    assert dest.route == "110" and "closed" in dest.reason


def test_night_noise_override_sends_nanchang_noise_to_110_but_not_jiujiang(
    policy: RoutingPolicy,
) -> None:
    night = time(23, 0)
    nc = policy.decide(city_code="nanchang", route="12345", category="noise", at=night, trunks=UP)
    jj = policy.decide(city_code="jiujiang", route="12345", category="noise", at=night, trunks=UP)
    day = policy.decide(city_code="nanchang", route="12345", category="noise", at=NOON, trunks=UP)
    assert nc.route == "110" and "override" in nc.reason
    assert jj.route == "12345"
    assert day.route == "12345"


def test_unresolved_repeat_goes_to_110(policy: RoutingPolicy) -> None:
    dest = policy.decide(
        city_code="nanchang",
        route="12345",
        category="move_car",
        at=NOON,
        trunks=UP,
        unresolved_repeat=True,
    )
    assert dest.route == "110" and "repeat" in dest.reason


def test_unknown_city_goes_to_110_with_dialplan_default(policy: RoutingPolicy) -> None:
    dest = policy.decide(city_code="atlantis", route="12345", category="noise", at=NOON, trunks=UP)
    assert dest.route == "110" and dest.dial == ""


@pytest.mark.parametrize("route", ["119", "120"])
def test_emergency_routes_keep_their_own_lines(policy: RoutingPolicy, route: str) -> None:
    dest = policy.decide(city_code="ganzhou", route=route, category="fire", at=NOON, trunks=UP)
    assert dest.route == route and dest.context == f"route-{route}"


def test_down_119_trunk_lands_on_110_never_elsewhere(policy: RoutingPolicy) -> None:
    trunks = {**UP, "ganzhou-119": TrunkState(reachable=False)}
    dest = policy.decide(city_code="ganzhou", route="119", category="fire", at=NOON, trunks=trunks)
    assert dest.route == "110"


@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        ("08:00-22:00", time(8, 0), True),
        ("08:00-22:00", time(22, 0), False),
        ("22:00-06:00", time(23, 59), True),
        ("22:00-06:00", time(5, 59), True),
        ("22:00-06:00", time(6, 0), False),
        ("00:00-24:00", time(3, 0), True),
    ],
)
def test_hours_windows_including_across_midnight(hours: str, at: time, expected: bool) -> None:
    assert in_hours(hours, at) is expected


@pytest.mark.parametrize("route", ["119", "120"])
def test_region_handling_119_120_on_110_keeps_the_call_on_110(
    settings: Settings, route: str
) -> None:
    city = settings.cities["ganzhou"].model_copy(update={"emergency_via_110": True})
    flagged = settings.model_copy(update={"cities": {**settings.cities, "ganzhou": city}})
    dest = RoutingPolicy(flagged).decide(
        city_code="ganzhou", route=route, category="fire", at=NOON, trunks=UP
    )
    assert dest.route == "110" and dest.wanted_route == route
    assert "handled by 110" in dest.reason


@pytest.mark.parametrize("route", ["12345", "mediation"])
def test_a_diversion_trunk_asterisk_has_not_judged_sends_the_call_to_110(
    policy: RoutingPolicy, route: str
) -> None:
    """Unknown health (gateway just started, AMI down, contact never qualified) is not
    good enough to offer a caller a line."""
    trunks = {**UP, f"nanchang-{route}": TrunkState(reachable=None)}
    dest = policy.decide(
        city_code="nanchang", route=route, category="family", at=NOON, trunks=trunks
    )
    assert dest.route == "110" and dest.wanted_route == route
    assert "health unknown" in dest.reason


def test_an_emergency_trunk_of_unknown_health_is_still_tried(policy: RoutingPolicy) -> None:
    """119/120 are dialled even before qualify judged them: the dialplan falls back to 110."""
    trunks = {**UP, "ganzhou-119": TrunkState(reachable=None)}
    dest = policy.decide(city_code="ganzhou", route="119", category="fire", at=NOON, trunks=trunks)
    assert (dest.route, dest.trunk) == ("119", "ganzhou-119")
