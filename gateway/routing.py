"""Routing policy: a triage decision + the city's table + trunk state → where the call goes.

Pure and synchronous. Safety rules enforced here, whatever the inputs:
- an emergency (110/119/120) never leaves the emergency services;
- a 12345/mediation destination that is down, of unknown health, full or closed sends
  the call to 110;
- an unresolved repeat matter goes to 110 with its history;
- anything unknown (no such city, no such trunk) goes to 110.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time as dtime

from gateway.settings import DIVERTED_ROUTES, City, Settings, Trunk


@dataclass(frozen=True)
class TrunkState:
    """What we know of a trunk right now (from Asterisk's qualify and our own counting)."""

    reachable: bool | None = None  # None: Asterisk has not judged it (yet, or AMI is down)
    active_calls: int = 0


@dataclass(frozen=True)
class Destination:
    route: str  # where the call goes: "110" | "119" | "120" | "12345" | "mediation"
    category: str
    trunk: str | None  # trunk name from config; None only when the city is unknown
    dial: str  # dial string for GW_DEST ("" → the dialplan's own GW_110_DIAL)
    context: str  # dialplan context to Redirect into
    reason: str  # why this destination (explainable decisions)
    wanted_route: str = ""  # what triage asked for, when policy changed it
    notes: tuple[str, ...] = field(default=())

    @property
    def diverted(self) -> bool:
        return self.route in DIVERTED_ROUTES

    @property
    def fell_back(self) -> bool:
        return bool(self.wanted_route) and self.wanted_route != self.route


def in_hours(hours: str, at: dtime) -> bool:
    """'08:00-22:00' style windows; a window may cross midnight ('22:00-06:00')."""
    start_s, end_s = hours.split("-")
    start = _minutes(start_s)
    end = _minutes(end_s)
    now = at.hour * 60 + at.minute
    if start == end or (start == 0 and end == 24 * 60):
        return True
    if start < end:
        return start <= now < end
    return now >= start or now < end


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def context_for(route: str) -> str:
    return f"route-{route}"


class RoutingPolicy:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def to_110(
        self, city_code: str | None, category: str, reason: str, wanted: str = ""
    ) -> Destination:
        city = self._settings.cities.get(city_code or "")
        trunk_name = city.destinations["110"] if city else None
        trunk = self._settings.trunks.get(trunk_name or "")
        return Destination(
            route="110",
            category=category,
            trunk=trunk_name,
            dial=trunk.dial if trunk else "",
            context=context_for("110"),
            reason=reason,
            wanted_route=wanted if wanted and wanted != "110" else "",
        )

    def decide(
        self,
        *,
        city_code: str | None,
        route: str,
        category: str,
        at: dtime,
        trunks: dict[str, TrunkState],
        unresolved_repeat: bool = False,
    ) -> Destination:
        city = self._settings.cities.get(city_code or "")
        if city is None:
            return self.to_110(None, category, f"unknown city {city_code!r}", route)
        route, override_note = self._apply_override(city, route, category, at)
        if route == "110":
            reason = override_note or "triage: police"
            return self.to_110(city_code, category, reason)
        if route in DIVERTED_ROUTES and unresolved_repeat:
            return self.to_110(city_code, category, "repeat call about an unresolved matter", route)
        if route in ("119", "120") and city.emergency_via_110:
            return self.to_110(city_code, category, f"{route} handled by 110 in this region", route)
        trunk_name = city.destinations.get(route)  # type: ignore[call-overload]
        if trunk_name is None:
            return self.to_110(city_code, category, f"no {route} destination configured", route)
        trunk = self._settings.trunks[trunk_name]
        problem = self._trunk_problem(trunk, trunks.get(trunk_name, TrunkState()), at, route)
        if problem:
            return self.to_110(city_code, category, f"{trunk_name} {problem}", route)
        return Destination(
            route=route,
            category=category,
            trunk=trunk_name,
            dial=trunk.dial,
            context=context_for(route),
            reason=override_note or f"triage: {route}/{category}",
        )

    @staticmethod
    def _apply_override(city: City, route: str, category: str, at: dtime) -> tuple[str, str]:
        """A city's local list may move a category (e.g. night-time noise → 110).

        Overrides can never move an emergency away from 110/119/120.
        """
        override = city.category_overrides.get(category)
        if override is None or not in_hours(override.hours, at):
            return route, ""
        if route not in DIVERTED_ROUTES and override.route in DIVERTED_ROUTES:
            return route, ""
        return override.route, f"city override: {category} → {override.route} ({override.hours})"

    @staticmethod
    def _trunk_problem(trunk: Trunk, state: TrunkState, at: dtime, route: str) -> str:
        if state.reachable is False:
            return "is down"
        if state.reachable is None and route in DIVERTED_ROUTES:
            # 119/120 are tried all the same (the dialplan falls back to 110); a
            # diversion needs a line Asterisk has seen answer
            return "health unknown"
        if state.active_calls >= trunk.max_calls:
            return f"is full ({state.active_calls}/{trunk.max_calls})"
        if not in_hours(trunk.hours, at):
            return f"is closed (hours {trunk.hours})"
        return ""
