"""Statistics from aggregated counters (pure): no ticket is read to answer a query.

The store keeps one Redis hash per day; each field is ``city|route|category|metric``
and holds a count. ``counter_increments`` says which fields a ticket event bumps;
``aggregate`` turns the hashes of a date range into rows grouped as asked.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from gateway.settings import DIVERTED_ROUTES
from gateway.tickets.model import SERVICE_TZ, Ticket

SEP = "|"
# Statistics days are China Standard Time days (no daylight saving), as the province counts
# (the same days as the ticket ids).
STATS_TZ = SERVICE_TZ


def stats_day(at: datetime) -> date:
    return at.astimezone(STATS_TZ).date()


# upper edges (ms) of the time-to-route histogram; the last bucket is open
TTR_EDGES_MS: tuple[int, ...] = (
    500,
    1000,
    2000,
    3000,
    4000,
    5000,
    6000,
    8000,
    10000,
    12000,
    15000,
    20000,
    25000,
    30000,
    60000,
)
GROUP_KEYS = ("day", "city", "route", "category")


def field_name(city: str, route: str, category: str, metric: str) -> str:
    return SEP.join((city, route, category, metric))


def ttr_bucket(route_ms: int) -> int:
    return bisect.bisect_left(TTR_EDGES_MS, route_ms)


def on_created(ticket: Ticket) -> dict[str, int]:
    """Counter increments for a new ticket."""

    def f(metric: str) -> str:
        return field_name(ticket.city, ticket.route, ticket.category, metric)

    inc = {f("calls"): 1}
    if ticket.diverted:
        inc[f("diverted")] = 1
    if ticket.category == "move_car":
        inc[f("move_car")] = 1
    if ticket.intended_route in DIVERTED_ROUTES and ticket.route == "110":
        inc[f("fallback_110")] = 1
    if ticket.route_ms is not None:
        inc[f(f"ttr:{ttr_bucket(ticket.route_ms)}")] = 1
    return inc


def on_metric(ticket: Ticket, metric: str) -> dict[str, int]:
    """Counter increment for a later event (loop_closed, sla_ack, sla_feedback, escalated)."""
    return {field_name(ticket.city, ticket.route, ticket.category, metric): 1}


@dataclass
class StatsRow:
    key: dict[str, str]
    calls: int = 0
    diverted: int = 0
    move_car: int = 0
    fallback_110: int = 0
    loop_closed: int = 0
    escalated: int = 0
    sla_ack: int = 0
    sla_feedback: int = 0
    ttr: dict[int, int] = field(default_factory=dict)

    @property
    def diversion_rate(self) -> float:
        return self.diverted / self.calls if self.calls else 0.0

    @property
    def loop_completion(self) -> float:
        return self.loop_closed / self.diverted if self.diverted else 0.0

    @property
    def sla_breaches(self) -> int:
        return self.sla_ack + self.sla_feedback

    @property
    def ttr_median_ms(self) -> int | None:
        return ttr_quantile(self.ttr, 0.5)

    def as_dict(self) -> dict[str, object]:
        return {
            **self.key,
            "calls": self.calls,
            "diverted": self.diverted,
            "diversion_rate": round(self.diversion_rate, 4),
            "move_car": self.move_car,
            "ttr_median_ms": self.ttr_median_ms,
            "fallback_110": self.fallback_110,
            "loop_closed": self.loop_closed,
            "loop_completion": round(self.loop_completion, 4),
            "escalated": self.escalated,
            "sla_breaches": self.sla_breaches,
        }


def ttr_quantile(histogram: Mapping[int, int], q: float) -> int | None:
    """Quantile estimated by linear interpolation inside the histogram bucket."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if seen + count >= rank:
            low = TTR_EDGES_MS[bucket - 1] if bucket > 0 else 0
            high = TTR_EDGES_MS[bucket] if bucket < len(TTR_EDGES_MS) else low * 2
            share = (rank - seen) / count if count else 0
            return int(low + (high - low) * share)
        seen += count
    return None


def aggregate(
    days: Iterable[tuple[date, Mapping[str, int]]],
    group_by: tuple[str, ...] = ("city",),
    city: str | None = None,
) -> list[StatsRow]:
    """Fold per-day counter hashes into rows keyed by ``group_by`` (subset of GROUP_KEYS)."""
    rows: dict[tuple[str, ...], StatsRow] = {}
    for day, counters in days:
        for name, count in counters.items():
            parts = name.split(SEP)
            if len(parts) != 4:
                continue
            row_city, route, category, metric = parts
            if city and row_city != city:
                continue
            values = {
                "day": day.isoformat(),
                "city": row_city,
                "route": route,
                "category": category,
            }
            key = tuple(values[k] for k in group_by)
            row = rows.get(key)
            if row is None:
                row = rows[key] = StatsRow(dict(zip(group_by, key, strict=True)))
            _add(row, metric, int(count))
    return [rows[k] for k in sorted(rows)]


def _add(row: StatsRow, metric: str, count: int) -> None:
    if metric.startswith("ttr:"):
        bucket = int(metric[4:])
        row.ttr[bucket] = row.ttr.get(bucket, 0) + count
    elif hasattr(row, metric) and metric != "key":
        setattr(row, metric, getattr(row, metric) + count)


def total(rows: Iterable[StatsRow]) -> StatsRow:
    out = StatsRow({"total": "total"})
    for row in rows:
        for name in (
            "calls",
            "diverted",
            "move_car",
            "fallback_110",
            "loop_closed",
            "escalated",
            "sla_ack",
            "sla_feedback",
        ):
            setattr(out, name, getattr(out, name) + getattr(row, name))
        for bucket, count in row.ttr.items():
            out.ttr[bucket] = out.ttr.get(bucket, 0) + count
    return out


COLUMNS = (
    "calls",
    "diverted",
    "diversion_rate",
    "move_car",
    "ttr_median_ms",
    "fallback_110",
    "loop_closed",
    "loop_completion",
    "escalated",
    "sla_breaches",
)


def to_csv(rows: list[StatsRow], group_by: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*group_by, *COLUMNS])
    for row in rows:
        data = row.as_dict()
        writer.writerow([row.key[k] for k in group_by] + [_cell(data[c]) for c in COLUMNS])
    return buffer.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def to_table(rows: list[StatsRow], group_by: tuple[str, ...]) -> str:
    header = [*group_by, *COLUMNS]
    body = []
    for row in [*rows, total(rows)]:
        data = row.as_dict()
        keys = [row.key.get(k, "TOTAL" if i == 0 else "") for i, k in enumerate(group_by)]
        cells = [
            _cell(data[c]) if not isinstance(data[c], float) else f"{data[c]:.1%}" for c in COLUMNS
        ]
        body.append(keys + cells)
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for cells in body:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines)
