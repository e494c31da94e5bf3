"""`gateway stats`, `gateway ticket` and `gateway dead-letters`: read-only views for
supervisors and engineers. Statistics come from the per-day counters, so a month
costs ~30 hash reads whatever the number of tickets."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from gateway.configfile import ConfigError
from gateway.settings import DEFAULT_CONFIG, load_settings

if TYPE_CHECKING:
    from gateway.store import TicketStore


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def _group(value: str) -> tuple[str, ...]:
    from gateway.tickets.stats import GROUP_KEYS

    keys = tuple(k.strip() for k in value.split(",") if k.strip())
    bad = [k for k in keys if k not in GROUP_KEYS]
    if bad or not keys:
        raise argparse.ArgumentTypeError(f"--by takes a comma list of {', '.join(GROUP_KEYS)}")
    return keys


def _store(args: argparse.Namespace) -> TicketStore:
    from gateway.store import TicketStore

    settings = load_settings(args.config)
    if args.redis:
        settings = settings.model_copy(
            update={"redis": settings.redis.model_copy(update={"url": args.redis})}
        )
    return TicketStore.from_settings(settings)


async def _stats(args: argparse.Namespace) -> int:
    from gateway.store import StoreUnavailable
    from gateway.tickets import stats as stats_rules

    last = args.to or datetime.now(stats_rules.STATS_TZ).date()
    first = args.from_ or last - timedelta(days=29)
    if first > last:
        print("error: --from is after --to", file=sys.stderr)
        return 2
    store = _store(args)
    try:
        rows = await store.stats(first, last, group_by=args.by, city=args.city)
    except StoreUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    if args.csv:
        sys.stdout.write(stats_rules.to_csv(rows, args.by))
    else:
        print(f"{first} … {last}" + (f"  city={args.city}" if args.city else ""))
        print(stats_rules.to_table(rows, args.by))
    return 0


async def _ticket(args: argparse.Namespace) -> int:
    from gateway.tickets.schema import to_json, to_open311

    store = _store(args)
    try:
        ticket = await store.get_ticket(args.id)
    finally:
        await store.close()
    if ticket is None:
        print(f"error: no ticket {args.id}", file=sys.stderr)
        return 1
    view = to_open311(ticket) if args.open311 else to_json(ticket)
    print(json.dumps(view, ensure_ascii=False, indent=2))
    return 0


async def _dead_letters(args: argparse.Namespace) -> int:
    from gateway.store import OutboxQueue

    store = _store(args)
    try:
        queue = OutboxQueue(store)
        dead = await queue.dead_letters()
        counts = await queue.counts()
    finally:
        await store.close()
    print(json.dumps(counts, ensure_ascii=False))
    for message in dead:
        print(
            f"{message['id']}  {message['city']}/{message['route']}  "
            f"tries={message['attempts']}  {message['last_error']}"
        )
    return 0


def _run(
    coroutine_fn: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(asyncio.run(coroutine_fn(args)))
        except ConfigError as exc:
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
            return 1

    return run


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="gateway.yaml")
    parser.add_argument("--redis", help="Redis URL (overrides the config)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("stats", help="calls, diversion, time to route, loop completion")
    _common(p)
    p.add_argument("--city", help="one city code (default: all)")
    p.add_argument("--from", dest="from_", type=_day, help="first day (default: 30 days ago)")
    p.add_argument("--to", type=_day, help="last day (default: today, China time)")
    p.add_argument(
        "--by",
        type=_group,
        default=("city",),
        help="group by a comma list of day,city,route,category (default: city)",
    )
    p.add_argument("--csv", action="store_true", help="CSV instead of a table")
    p.set_defaults(func=_run(_stats))

    t = sub.add_parser("ticket", help="show one ticket (JSON, or its Open311 view)")
    _common(t)
    t.add_argument("id")
    t.add_argument("--open311", action="store_true")
    t.set_defaults(func=_run(_ticket))

    d = sub.add_parser("dead-letters", help="webhooks that could not be delivered")
    _common(d)
    d.set_defaults(func=_run(_dead_letters))
