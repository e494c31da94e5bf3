from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.cli import main
from gateway.embedded_redis import EmbeddedRedis
from tests.store.support import settings_for, store_for, ticket_fields


@pytest.fixture
async def seeded(redis_server: EmbeddedRedis, redis_client) -> str:
    store = store_for(settings_for(redis_server.url))
    at = datetime(2026, 11, 3, 4, tzinfo=UTC)
    ticket = await store.create_ticket(now=at, **ticket_fields())
    await store.create_ticket(now=at, **ticket_fields(route="110", category="theft"))
    await store.create_ticket(now=at, **ticket_fields(city="ganzhou"))
    await store.close()
    return ticket.id


async def _run(argv: list[str]) -> int:
    import asyncio

    # the command runs its own event loop, as from a shell
    return await asyncio.to_thread(main, argv)


async def test_stats_prints_a_table_with_totals(seeded, redis_server, capsys):
    code = await _run(
        ["stats", "--redis", redis_server.url, "--from", "2026-11-01", "--to", "2026-11-30"]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["city", "calls", "diverted"]
    assert any(line.startswith("nanchang") and " 2 " in line for line in lines)
    assert lines[-1].startswith("TOTAL")


async def test_stats_csv_for_one_city(seeded, redis_server, capsys):
    code = await _run(
        [
            "stats",
            "--redis",
            redis_server.url,
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--city",
            "ganzhou",
            "--by",
            "day,route",
            "--csv",
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("day,route,calls")
    assert out[1].startswith("2026-11-03,12345,1,1")


def test_bad_dates_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["stats", "--from", "last week"])
    assert "YYYY-MM-DD" in capsys.readouterr().err


async def test_ticket_command_shows_the_schema_json(seeded, redis_server, capsys):
    assert await _run(["ticket", "--redis", redis_server.url, seeded]) == 0
    assert '"schema": "gw.ticket/1"' in capsys.readouterr().out
    assert await _run(["ticket", "--redis", redis_server.url, "0000-0000000"]) == 1
