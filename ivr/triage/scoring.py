"""Score triage against a labelled JSONL file: the figures the safety case is judged on."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ivr.triage.result import EMERGENCY_ROUTES, TriageResult

ROUTES = ("110", "119", "120", "12345", "mediation")
NONPOLICE_ROUTES = frozenset({"12345", "mediation"})


@dataclass(frozen=True)
class LabelledItem:
    line: int
    id: str
    text: str
    route: str
    category: str


@dataclass
class ReadReport:
    items: list[LabelledItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line N: why"
    skipped: int = 0  # items lacking the chosen field


def read_labelled(path: Path, text_field: str) -> ReadReport:
    """Parse the file line by line; a bad line is reported by number and the rest still read."""
    report = ReadReport()
    with path.open("r", encoding="utf-8", errors="replace") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                report.problems.append(f"line {number}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(record, dict):
                report.problems.append(f"line {number}: expected a JSON object")
                continue
            route = record.get("route")
            if route not in ROUTES:
                report.problems.append(f"line {number}: route must be one of {', '.join(ROUTES)}")
                continue
            text = record.get(text_field)
            if text is None:
                report.skipped += 1
                continue
            if not isinstance(text, str):
                report.problems.append(f"line {number}: {text_field} must be a string")
                continue
            report.items.append(
                LabelledItem(
                    line=number,
                    id=str(record.get("id", f"line-{number}")),
                    text=text,
                    route=route,
                    category=str(record.get("category", "")),
                )
            )
    return report


@dataclass(frozen=True)
class Scored:
    item: LabelledItem
    result: TriageResult


@dataclass
class Scorecard:
    scored: list[Scored]

    @property
    def total(self) -> int:
        return len(self.scored)

    def _gold(self, routes: frozenset[str]) -> list[Scored]:
        return [s for s in self.scored if s.item.route in routes]

    @property
    def emergency_misrouted(self) -> list[Scored]:
        return [s for s in self._gold(EMERGENCY_ROUTES) if s.result.route in NONPOLICE_ROUTES]

    @property
    def confusion(self) -> dict[str, Counter[str]]:
        matrix: dict[str, Counter[str]] = {route: Counter() for route in ROUTES}
        for s in self.scored:
            matrix[s.item.route][s.result.route] += 1
        return matrix

    def precision_recall(self) -> dict[str, tuple[float | None, float | None]]:
        out: dict[str, tuple[float | None, float | None]] = {}
        for route in ROUTES:
            predicted = [s for s in self.scored if s.result.route == route]
            gold = [s for s in self.scored if s.item.route == route]
            hits = sum(1 for s in gold if s.result.route == route)
            out[route] = (
                hits / len(predicted) if predicted else None,
                hits / len(gold) if gold else None,
            )
        return out

    def summary(self) -> dict[str, object]:
        emergency = self._gold(EMERGENCY_ROUTES)
        nonpolice = self._gold(NONPOLICE_ROUTES)
        diverted = [s for s in nonpolice if s.result.route == s.item.route]
        gold_12345 = [s for s in self.scored if s.item.route == "12345"]
        category_hits = [
            s
            for s in gold_12345
            if s.result.route == "12345" and s.result.category == s.item.category
        ]
        route_hits = [s for s in self.scored if s.result.route == s.item.route]
        return {
            "total": self.total,
            "emergency_total": len(emergency),
            "emergency_misrouted": len(self.emergency_misrouted),
            "nonpolice_total": len(nonpolice),
            "nonpolice_diverted": len(diverted),
            "diversion_rate": _ratio(len(diverted), len(nonpolice)),
            "route_accuracy": _ratio(len(route_hits), self.total),
            "category_accuracy": _ratio(len(category_hits), len(gold_12345)),
        }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def score(items: Iterable[LabelledItem], decide: Callable[[str], TriageResult]) -> Scorecard:
    return Scorecard([Scored(item, decide(item.text)) for item in items])
