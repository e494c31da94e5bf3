"""Tickets benchmark: outbox throughput, Redis memory per ticket, `gateway stats` time.

    .venv/bin/python -m bench.bench_tickets [--quick] [--tickets N] [--month-tickets N]

Everything runs locally: an embedded redis-server and an aiohttp receiver on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.embedded_redis import EmbeddedRedis
from gateway.outbox import OutboxWorker
from gateway.settings import RedisSettings, WebhookSettings, WebhookTarget, load_settings
from gateway.store import TicketStore, make_client
from gateway.tickets import stats as stats_rules
from gateway.tickets.create import new_ticket

ROOT = Path(__file__).resolve().parent.parent
SECRET_ENV = "GW_BENCH_WEBHOOK_SECRET"
CITIES = [
    "nanchang",
    "jiujiang",
    "jingdezhen",
    "pingxiang",
    "xinyu",
    "yingtan",
    "ganzhou",
    "yichun",
    "shangrao",
    "jian",
    "fuzhou",
]
MIX = [
    ("12345", "move_car", 30),
    ("12345", "noise", 10),
    ("12345", "municipal", 8),
    ("12345", "utilities", 4),
    ("12345", "consumer", 4),
    ("12345", "labour", 3),
    ("mediation", "neighbour", 10),
    ("mediation", "family", 5),
    ("mediation", "tenancy", 3),
    ("110", "theft", 8),
    ("110", "assault", 4),
    ("110", "traffic_accident", 5),
    ("110", "unclear", 4),
    ("119", "fire", 1),
    ("120", "cardiac", 1),
]
TRANSCRIPT = (
    "你好，我家楼下有辆车挡住了车库门，车牌是赣A12345，打电话也联系不上车主，麻烦帮忙处理一下"
)


def pick(rng: random.Random) -> tuple[str, str]:
    total = sum(w for *_, w in MIX)
    roll = rng.uniform(0, total)
    for route, category, weight in MIX:
        roll -= weight
        if roll <= 0:
            return route, category
    return MIX[0][0], MIX[0][1]


def settings_for(url: str, receiver: str):
    base = load_settings()
    target = WebhookTarget.model_validate({"url": receiver, "secret": {"env": SECRET_ENV}})
    return base.model_copy(
        update={
            "redis": RedisSettings(url=url, op_timeout=5.0),
            "webhooks": WebhookSettings(
                batch=200, targets={"*/12345": target, "*/mediation": target}
            ),
        }
    )


async def receiver() -> tuple[TestServer, list[str]]:
    seen: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        seen.append(request.headers["Idempotency-Key"])
        return web.json_response({"accepted": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, seen


def make(rng: random.Random, i: int, at: datetime, route: str | None = None):
    r, category = pick(rng)
    return new_ticket(
        call_id=f"bench-{i}",
        city=rng.choice(CITIES),
        caller=f"138{rng.randrange(10**8):08d}",
        route=route or r,
        category=category,
        confidence=0.85,
        now=at,
        transcript=TRANSCRIPT,
        evidence=["move_car『挡住』"],
        rule="divert",
        route_reason="triage",
        route_ms=rng.randint(3000, 15000),
    )


async def bench_outbox(url: str, count: int, concurrency: int) -> dict[str, float]:
    server, seen = await receiver()
    settings = settings_for(url, str(server.make_url("/hook")))
    store = TicketStore(
        make_client(settings.redis),
        redis=settings.redis,
        retention=settings.retention,
        loop=settings.loop,
        webhooks=settings.webhooks,
    )
    await store.client.flushall()
    worker = OutboxWorker(store, settings.webhooks)
    rng = random.Random(1)
    now = datetime.now(UTC)
    tickets = [make(rng, i, now, route="12345") for i in range(count)]

    started = time.perf_counter()
    sem = asyncio.Semaphore(concurrency)

    async def create(t):  # type: ignore[no-untyped-def]
        async with sem:
            await store.save_new_ticket(t)

    await asyncio.gather(*(create(t) for t in tickets))
    created_s = time.perf_counter() - started
    send_started = time.perf_counter()
    while await worker.run_once(datetime.now(UTC)):
        pass
    deliver_s = time.perf_counter() - send_started
    total_s = time.perf_counter() - started
    await worker.stop()
    await store.close()
    await server.close()
    assert len(set(seen)) == count, (len(set(seen)), count)
    return {
        "created_per_s": count / created_s,
        "delivered_per_s": count / deliver_s,
        "end_to_end_per_s": count / total_s,
    }


async def bench_memory(url: str, count: int) -> dict[str, float]:
    server, _ = await receiver()
    settings = settings_for(url, str(server.make_url("/hook")))
    store = TicketStore(
        make_client(settings.redis),
        redis=settings.redis,
        retention=settings.retention,
        loop=settings.loop,
        webhooks=settings.webhooks,
    )
    await store.client.flushall()
    before = (await store.client.info("memory"))["used_memory"]
    rng = random.Random(2)
    now = datetime.now(UTC)
    for chunk in range(0, count, 500):
        await asyncio.gather(
            *(
                store.save_new_ticket(make(rng, i, now))
                for i in range(chunk, min(count, chunk + 500))
            )
        )
    queued = (await store.client.info("memory"))["used_memory"]
    worker = OutboxWorker(store, settings.webhooks)
    while await worker.run_once(datetime.now(UTC)):
        pass
    delivered = (await store.client.info("memory"))["used_memory"]
    await worker.stop()
    await store.close()
    await server.close()
    return {
        "bytes_per_ticket_queued": (queued - before) / count,
        "bytes_per_ticket_delivered": (delivered - before) / count,
    }


async def seed_month(url: str, count: int, first: date) -> float:
    """Counters of ``count`` synthetic tickets over 30 days, written as the store would."""
    rng = random.Random(3)
    keys = RedisSettings(url=url).key_prefix
    per_day: dict[date, Counter[str]] = {}
    started = time.perf_counter()
    for i in range(count):
        day = first + timedelta(days=i % 30)
        at = datetime(day.year, day.month, day.day, 4, tzinfo=UTC)
        route, category = pick(rng)
        ticket = new_ticket(
            call_id="x",
            city=CITIES[i % len(CITIES)],
            caller="1",
            route=route,
            category=category,
            confidence=0.9,
            now=at,
            route_ms=rng.randint(2000, 20000),
            intended_route="12345" if route == "110" and i % 40 == 0 else "",
            ticket_id="0000-0000000",
        )
        per_day.setdefault(day, Counter()).update(stats_rules.on_created(ticket))
    client = make_client(RedisSettings(url=url, op_timeout=30))
    async with client.pipeline(transaction=False) as pipe:
        for day, counters in per_day.items():
            for name, value in counters.items():
                pipe.hincrby(f"{keys}stats:{day.isoformat()}", name, value)
        await pipe.execute()
    await client.aclose()
    return time.perf_counter() - started


async def time_stats_in_process(url: str, first: date) -> float:
    store = TicketStore(
        make_client(RedisSettings(url=url, op_timeout=5)),
        redis=RedisSettings(url=url, op_timeout=5),
        retention=load_settings().retention,
        loop=load_settings().loop,
        webhooks=WebhookSettings(),
    )
    started = time.perf_counter()
    rows = await store.stats(
        first, first + timedelta(days=29), group_by=("city", "route", "category")
    )
    elapsed = time.perf_counter() - started
    await store.close()
    assert rows
    return elapsed


def time_stats_command(url: str, first: date) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "stats",
            "--redis",
            url,
            "--from",
            first.isoformat(),
            "--to",
            (first + timedelta(days=29)).isoformat(),
            "--by",
            "day,city,route,category",
            "--csv",
        ],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


async def run(args: argparse.Namespace) -> None:
    os.environ.setdefault(SECRET_ENV, "bench-secret")
    with EmbeddedRedis() as redis_server:
        outbox = await bench_outbox(redis_server.url, args.tickets, 64)
        memory = await bench_memory(redis_server.url, args.tickets)
        client = make_client(RedisSettings(url=redis_server.url))
        await client.flushall()
        await client.aclose()
        first = date(2026, 10, 1)
        seed_s = await seed_month(redis_server.url, args.month_tickets, first)
        in_process = min([await time_stats_in_process(redis_server.url, first) for _ in range(5)])
        command = min(time_stats_command(redis_server.url, first) for _ in range(3))
    print(
        table(
            [
                ("tickets through the outbox", f"{args.tickets}"),
                ("created (saved in Redis) / s", f"{outbox['created_per_s']:.0f}"),
                ("delivered (signed POST + 2xx + 流转) / s", f"{outbox['delivered_per_s']:.0f}"),
                ("created + delivered end to end / s", f"{outbox['end_to_end_per_s']:.0f}"),
                (
                    "Redis bytes per ticket, webhook queued",
                    f"{memory['bytes_per_ticket_queued']:.0f}",
                ),
                (
                    "Redis bytes per ticket, delivered",
                    f"{memory['bytes_per_ticket_delivered']:.0f}",
                ),
                ("synthetic month (30 days) tickets", f"{args.month_tickets}"),
                ("  counters generated in", f"{seed_s:.1f} s"),
                (
                    "stats over the month, in process (city×route×category)",
                    f"{in_process * 1000:.1f} ms",
                ),
                (
                    "`gateway stats` over the month, whole command (day×city×route×category CSV)",
                    f"{command * 1000:.0f} ms",
                ),
            ]
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts (CI smoke run)")
    parser.add_argument("--tickets", type=int, help="tickets through the outbox")
    parser.add_argument("--month-tickets", type=int, help="synthetic tickets for stats")
    args = parser.parse_args()
    args.tickets = args.tickets or (1000 if args.quick else 10_000)
    args.month_tickets = args.month_tickets or (50_000 if args.quick else 1_000_000)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
