"""Tickets and call-back tasks made while Redis is down survive a gateway restart."""

from __future__ import annotations

from pathlib import Path

from gateway.embedded_redis import EmbeddedRedis
from gateway.settings import RedisSettings
from gateway.tickets.create import new_ticket
from gateway.tickets.model import utcnow
from tests.store.support import settings_for, store_for


async def test_spool_survives_a_restart_during_a_redis_outage(tmp_path: Path) -> None:
    spool = tmp_path / "spool.json"
    redis = EmbeddedRedis().start()
    try:
        settings = settings_for(redis.url).model_copy(
            update={"redis": RedisSettings(url=redis.url, op_timeout=0.3, spool_file=spool)}
        )
        redis.stop()
        first = store_for(settings)
        task = await first.create_callback_task(
            call_id="c-1", city="nanchang", caller="13800000001", heard="救命"
        )
        ticket = new_ticket(
            call_id="c-2",
            city="nanchang",
            caller="13800000002",
            route="12345",
            category="move_car",
            confidence=0.9,
            now=utcnow(),
            transcript="车堵了",
        )
        assert not await first.save_or_spool(ticket)
        assert task["status"] == "spooled" and spool.is_file()
        await first.close()  # the gateway dies while Redis is still down

        redis.start()
        second = store_for(settings)  # the restarted gateway
        assert [t.id for t in second.spool] == [ticket.id]
        assert await second.flush_spool() == 2
        saved = await second.get_ticket(ticket.id)
        assert saved is not None and saved.transcript == "车堵了"
        assert [t["caller"] for t in await second.list_callbacks()] == ["13800000001"]
        assert not spool.exists()
        await second.close()
    finally:
        redis.close()


async def test_an_unreadable_spool_is_kept_aside_not_deleted(tmp_path: Path) -> None:
    spool = tmp_path / "spool.json"
    spool.write_text("{not json", encoding="utf-8")
    settings = settings_for("redis://127.0.0.1:1/0").model_copy(
        update={"redis": RedisSettings(url="redis://127.0.0.1:1/0", spool_file=spool)}
    )
    store = store_for(settings)
    assert not store.spool and (tmp_path / "spool.bad").is_file()
    await store.close()
