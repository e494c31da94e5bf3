from __future__ import annotations

from datetime import date

from gateway.tickets import stats
from tests.tickets.helpers import make_ticket


def counters(*tickets):
    merged: dict[str, int] = {}
    for t in tickets:
        for k, v in stats.on_created(t).items():
            merged[k] = merged.get(k, 0) + v
    return merged


def test_diversion_rate_move_car_and_fallbacks_per_city():
    day = counters(
        make_ticket(route="12345", category="move_car", route_ms=6000),
        make_ticket(route="mediation", category="neighbour", route_ms=9000),
        make_ticket(route="110", category="theft", route_ms=2000),
        make_ticket(route="110", category="move_car", intended_route="12345", route_ms=8000),
        make_ticket(city="jiujiang", route="110", category="fire"),
    )
    rows = stats.aggregate([(date(2026, 11, 29), day)], ("city",))
    nanchang = rows[1].as_dict()
    assert nanchang["city"] == "nanchang"
    assert nanchang["calls"] == 4 and nanchang["diverted"] == 2
    assert nanchang["diversion_rate"] == 0.5
    assert nanchang["move_car"] == 2 and nanchang["fallback_110"] == 1
    assert 4000 <= nanchang["ttr_median_ms"] <= 8000


def test_city_filter_and_day_grouping():
    rows = stats.aggregate(
        [
            (date(2026, 11, 1), counters(make_ticket())),
            (date(2026, 11, 2), counters(make_ticket(city="ganzhou"))),
        ],
        ("day",),
        city="ganzhou",
    )
    assert [(r.key["day"], r.calls) for r in rows] == [("2026-11-02", 1)]


def test_csv_has_a_header_and_one_line_per_row():
    rows = stats.aggregate([(date(2026, 11, 1), counters(make_ticket()))], ("city", "route"))
    text = stats.to_csv(rows, ("city", "route"))
    lines = text.strip().splitlines()
    assert lines[0].startswith("city,route,calls,diverted,diversion_rate")
    assert lines[1].startswith("nanchang,12345,1,1,1.0000")


def test_table_ends_with_a_total_line():
    rows = stats.aggregate([(date(2026, 11, 1), counters(make_ticket(), make_ticket()))])
    assert stats.to_table(rows, ("city",)).splitlines()[-1].startswith("TOTAL")
