"""The whole loop as the lead will wire it: call path → ticket → webhook → centre API →
survey → closed, with statistics at the end."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer

from gateway.outbox import OutboxWorker
from gateway.store import LoopKeeper
from gateway.web import create_app
from tests.store.receiver import Receiver
from tests.store.support import T0, settings_for, store_for, ticket_fields
from tests.web.support import auth


class Survey:
    def __init__(self) -> None:
        self.placed: list[Mapping[str, str]] = []

    async def originate(
        self, number: str, context: str = "survey", variables: Mapping[str, str] | None = None
    ) -> bool:
        self.placed.append(dict(variables or {}))
        return True


async def test_diverted_call_goes_round_the_whole_loop(web_settings, redis_client):
    receiver = Receiver()
    url = await receiver.start()
    settings = web_settings.model_copy(
        update={"webhooks": settings_for(web_settings.redis.url, receiver_url=url).webhooks}
    )
    store = store_for(settings)
    survey = Survey()
    keeper = LoopKeeper(store, settings.loop, survey)
    worker = OutboxWorker(store, settings.webhooks)
    app = create_app(settings, store, keeper=keeper, live_block_ms=200)
    async with TestClient(TestServer(app, host="127.0.0.1")) as http:
        info = await store.lookup_caller("13812345678", "move_car", T0)
        assert not info.repeat
        ticket = await store.create_ticket(now=T0, repeat=info, **ticket_fields())
        await worker.run_once(T0)
        assert receiver.keys == [f"{ticket.id}:ticket.created"]
        path = f"/api/v1/tickets/{ticket.id}"
        assert (await http.post(f"{path}/ack", json={}, headers=auth("nc12345"))).status == 200
        r = await http.post(
            f"{path}/feedback", json={"outcome": "resolved"}, headers=auth("nc12345")
        )
        assert (await r.json())["state"] == "feedback"
        feedback_at = (await store.get_ticket(ticket.id)).reached_at("feedback")
        report = await keeper.sweep(
            feedback_at + timedelta(hours=settings.loop.followup_after_hours, minutes=1)
        )
        assert report.surveys_placed == [ticket.id]
        assert survey.placed == [{"GW_TICKET": ticket.id}]
        await keeper.survey_result(ticket.id, "1")  # the AMI SurveyResult user event
        view = await (await http.get(path, headers=auth("wang"))).json()
        assert [e["state"] for e in view["timeline"] if e["state"] != "note"] == [
            "accepted",
            "transferred",
            "handling",
            "feedback",
            "followed_up",
            "closed",
        ]
        stats = await (
            await http.get("/api/v1/stats?from=2026-11-29&to=2026-11-29", headers=auth("wang"))
        ).json()
        assert stats["total"]["loop_completion"] == 1.0
        again = await store.lookup_caller("13812345678", "move_car", T0 + timedelta(hours=30))
        assert again.repeat and not again.send_to_110  # resolved: a repeat, not escalated
    await worker.stop()
    await store.close()
    await receiver.close()
