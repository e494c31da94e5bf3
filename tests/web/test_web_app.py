from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.embedded_redis import EmbeddedRedis
from gateway.outbox.signing import sign
from gateway.store import TicketStore
from gateway.tickets.loop import Step
from gateway.web import create_app
from tests.store.support import T0, store_for, ticket_fields
from tests.web.support import auth, token


@pytest.fixture
async def client(web_settings, redis_client) -> AsyncIterator[tuple[TestClient, TicketStore]]:
    store = store_for(web_settings)
    app = create_app(
        web_settings, store, trunk_health=lambda: {"nanchang-12345": "down"}, live_block_ms=200
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client, store
    await store.close()


async def _ticket(store: TicketStore, **overrides):
    return await store.create_ticket(now=T0, **ticket_fields(**overrides))


async def test_centre_acknowledges_and_reports_feedback_on_its_ticket(client):
    http, store = client
    ticket = await _ticket(store)
    await store.transition(ticket.id, Step.TRANSFER, actor="outbox", now=T0)
    r = await http.post(
        f"/api/v1/tickets/{ticket.id}/ack", json={"handler": "张三"}, headers=auth("nc12345")
    )
    assert r.status == 200 and (await r.json())["result"] == "applied"
    again = await http.post(f"/api/v1/tickets/{ticket.id}/ack", json={}, headers=auth("nc12345"))
    assert again.status == 200 and (await again.json())["result"] == "noop"
    r = await http.post(
        f"/api/v1/tickets/{ticket.id}/feedback",
        json={"outcome": "resolved", "note": "车主已挪车"},
        headers=auth("nc12345"),
    )
    assert (await r.json())["state"] == "feedback"
    view = await (await http.get(f"/api/v1/tickets/{ticket.id}", headers=auth("nc12345"))).json()
    assert [e["state"] for e in view["timeline"]][-2:] == ["handling", "feedback"]
    assert view["caller"] == "138****5678"


async def test_feedback_before_transfer_is_refused_with_409_and_reason(client):
    http, store = client
    ticket = await _ticket(store)
    r = await http.post(
        f"/api/v1/tickets/{ticket.id}/feedback",
        json={"outcome": "resolved"},
        headers=auth("nc12345"),
    )
    assert r.status == 409
    body = await r.json()
    assert body["error"] == "out_of_order" and "accepted" in body["detail"]


@pytest.mark.parametrize(
    ("payload", "headers", "status", "code"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "bad_json"),
        (b"[1,2]", {"Content-Type": "application/json"}, 400, "bad_json"),
        (
            b"outcome=resolved",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
        ),
        (b"{}", {"Content-Type": "application/json"}, 422, "missing_field"),
        (b'{"outcome": "maybe"}', {"Content-Type": "application/json"}, 422, "invalid_field"),
        (b'{"outcome": 5}', {"Content-Type": "application/json"}, 422, "invalid_field"),
    ],
)
async def test_bad_feedback_requests_get_precise_4xx(client, payload, headers, status, code):
    http, store = client
    ticket = await _ticket(store)
    r = await http.post(
        f"/api/v1/tickets/{ticket.id}/feedback",
        data=payload,
        headers={**headers, **auth("nc12345")},
    )
    assert r.status == status
    assert (await r.json())["error"] == code


async def test_oversize_body_is_rejected_with_413(client):
    http, store = client
    ticket = await _ticket(store)
    r = await http.post(
        f"/api/v1/tickets/{ticket.id}/ack",
        data=b"{" + b" " * 5000 + b"}",
        headers={"Content-Type": "application/json", **auth("nc12345")},
    )
    assert r.status == 413
    assert (await r.json())["error"] == "too_large"
    chunked = await http.post(
        f"/api/v1/tickets/{ticket.id}/ack",
        data=_chunks(b'{"note": "' + b"x" * 5000 + b'"}'),
        headers={"Content-Type": "application/json", **auth("nc12345")},
    )
    assert chunked.status == 413


async def _chunks(data: bytes):
    for i in range(0, len(data), 512):
        yield data[i : i + 512]


async def test_credentials_are_required_and_checked(client):
    http, store = client
    ticket = await _ticket(store)
    assert (await http.get(f"/api/v1/tickets/{ticket.id}")).status == 401
    r = await http.get(f"/api/v1/tickets/{ticket.id}", headers={"Authorization": "Bearer nope"})
    assert r.status == 401 and (await r.json())["error"] == "unauthenticated"
    r = await http.get(f"/api/v1/tickets/{ticket.id}", headers={"Authorization": "Basic x"})
    assert r.status == 401


async def test_centres_see_only_their_own_tickets_and_roles_are_enforced(client):
    http, store = client
    ticket = await _ticket(store)
    assert (await http.get(f"/api/v1/tickets/{ticket.id}", headers=auth("jjmed"))).status == 404
    r = await http.post(f"/api/v1/tickets/{ticket.id}/ack", json={}, headers=auth("li"))
    assert r.status == 403
    assert (await http.get("/api/v1/stats", headers=auth("nc12345"))).status == 403
    assert (await http.get("/api/v1/tickets/0000-0000000", headers=auth("wang"))).status == 404


def _signed(
    name: str, method: str, path: str, body: bytes, at: int | None = None, key: str | None = None
) -> dict[str, str]:
    message = f"{method} {path}\n".encode() + body
    return {
        "X-GW-Client": name,
        "X-GW-Signature": sign(key or token(name), message, at or int(time.time())),
        "Content-Type": "application/json",
    }


async def test_hmac_signed_requests_work_and_forged_or_stale_ones_do_not(client):
    http, store = client
    ticket = await _ticket(store)
    path = f"/api/v1/tickets/{ticket.id}/ack"
    body = b'{"note": "ok"}'
    good = await http.post(path, data=body, headers=_signed("nc12345", "POST", path, body))
    assert good.status == 200
    forged = await http.post(
        path, data=body, headers=_signed("nc12345", "POST", path, body, key="guess")
    )
    assert forged.status == 401 and "does not match" in (await forged.json())["detail"]
    tampered = await http.post(
        path, data=b'{"note": "changed"}', headers=_signed("nc12345", "POST", path, body)
    )
    assert tampered.status == 401
    stale = await http.post(
        path, data=body, headers=_signed("nc12345", "POST", path, body, at=int(time.time()) - 3600)
    )
    assert stale.status == 401 and "tolerance" in (await stale.json())["detail"]
    other_path = await http.post(
        f"/api/v1/tickets/{ticket.id}/feedback",
        data=body,
        headers=_signed("nc12345", "POST", path, body),
    )
    assert other_path.status == 401
    unknown = await http.post(path, data=body, headers=_signed("mallory", "POST", path, body))
    assert unknown.status == 401


async def test_open311_view_of_a_ticket(client):
    http, store = client
    ticket = await _ticket(store)
    r = await http.get(f"/api/v1/tickets/{ticket.id}?view=open311", headers=auth("nc12345"))
    data = await r.json()
    assert data["service_request_id"] == ticket.id and data["service_code"] == "12345.move_car"
    assert (
        await http.get(f"/api/v1/tickets/{ticket.id}?view=xml", headers=auth("nc12345"))
    ).status == 400


async def test_statistics_api_json_and_csv(client):
    http, store = client
    await _ticket(store)
    await _ticket(store, route="110", category="theft")
    r = await http.get("/api/v1/stats?from=2026-11-01&to=2026-11-30&by=city", headers=auth("wang"))
    data = await r.json()
    assert data["total"]["calls"] == 2 and data["total"]["diversion_rate"] == 0.5
    csv = await http.get(
        "/api/v1/stats?from=2026-11-01&to=2026-11-30&by=day,route&format=csv", headers=auth("zhao")
    )
    assert (await csv.text()).splitlines()[0].startswith("day,route,calls")
    bad = await http.get("/api/v1/stats?from=yesterday", headers=auth("wang"))
    assert bad.status == 400 and "YYYY-MM-DD" in (await bad.json())["detail"]
    assert (await http.get("/api/v1/stats?by=colour", headers=auth("wang"))).status == 400


async def test_live_board_receives_events_as_they_happen(client):
    http, store = client
    r = await http.get("/api/v1/events", headers=auth("li"))
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    assert (await r.content.readline()).startswith(b": connected")
    await store.append_call_event("call-9", "partial", {"text": "有人拿刀", "city": "nanchang"})
    while True:
        line = await r.content.readline()
        if line.startswith(b"data: "):
            event = json.loads(line[6:])
            break
    assert event["kind"] == "call" and event["data"]["data"]["text"] == "有人拿刀"
    r.close()


async def test_supervisor_sees_dead_letters_trunks_and_callbacks(client):
    http, store = client
    await store.create_callback_task(call_id="c", city="nanchang", caller="13812345678", heard="救")
    tasks = await (await http.get("/api/v1/callbacks", headers=auth("li"))).json()
    assert tasks[0]["caller"] == "13812345678" and tasks[0]["caller_masked"] == "138****5678"
    trunks = await (await http.get("/api/v1/trunks", headers=auth("zhao"))).json()
    assert {"trunk": "nanchang-12345", "status": "down"}.items() <= next(
        t for t in trunks if t["trunk"] == "nanchang-12345"
    ).items()
    dead = await http.get("/api/v1/deadletters", headers=auth("wang"))
    assert dead.status == 200 and "counts" in await dead.json()
    assert (await http.get("/api/v1/deadletters", headers=auth("li"))).status == 403


async def test_supervisor_escalates_a_ticket_back_to_110(client):
    http, store = client
    ticket = await _ticket(store)
    r = await http.post(
        f"/api/v1/tickets/{ticket.id}/escalate",
        json={"reason": "群众再次来电"},
        headers=auth("wang"),
    )
    assert (await r.json())["state"] == "escalated"
    assert (
        await http.post(f"/api/v1/tickets/{ticket.id}/escalate", json={}, headers=auth("wang"))
    ).status == 422


async def test_config_check_reports_line_and_field(client):
    http, _ = client
    r = await http.post(
        "/api/v1/config/check", data="redis:\n  op_timeout: -1\n", headers=auth("zhao")
    )
    data = await r.json()
    assert not data["ok"]
    assert any(p["field"] == "redis.op_timeout" and p["line"] == 2 for p in data["problems"])
    assert (await http.post("/api/v1/config/check", data="x: 1", headers=auth("li"))).status == 403


async def test_health_readiness_metrics_and_pages(client):
    http, _ = client
    assert (await http.get("/healthz")).status == 200
    assert (await http.get("/readyz")).status == 200
    await http.get("/api/v1/me", headers=auth("wang"))
    metrics = await (await http.get("/metrics")).text()
    assert "gw_http_requests_total" in metrics and "gw_outbox_pending" in metrics
    page = await http.get("/", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"] == "/login"
    login = await http.post("/login", data={"token": token("li")}, allow_redirects=False)
    assert login.status == 302
    board = await http.get("/")
    assert board.status == 200 and "实时看板" in await board.text()
    assert (await http.get("/static/board.js")).status == 200
    assert (await http.get("/stats")).status == 200


async def test_api_answers_503_when_redis_is_down(web_settings):
    with EmbeddedRedis() as own:
        settings = web_settings.model_copy(
            update={"redis": web_settings.redis.model_copy(update={"url": own.url})}
        )
        store = store_for(settings)
        app = create_app(settings, store, live_block_ms=200)
        async with TestClient(TestServer(app, host="127.0.0.1")) as http:
            own.stop()
            r = await http.get("/api/v1/tickets/1129-1234567", headers=auth("wang"))
            assert r.status == 503 and (await r.json())["error"] == "store_unavailable"
            assert (await http.get("/readyz")).status == 503
            assert (await http.get("/healthz")).status == 200
        await store.close()


def test_signature_helper_matches_plain_hmac():
    body = b"x"
    expected = hmac.new(b"k", b"5.x", hashlib.sha256).hexdigest()
    assert sign("k", body, 5) == f"t=5,v1={expected}"


async def test_escalation_records_the_supervisor_and_withdraws_an_unsent_webhook(client):
    http, store = client
    ticket = await _ticket(store)
    await http.post(
        f"/api/v1/tickets/{ticket.id}/escalate", json={"reason": "复核"}, headers=auth("wang")
    )
    stored = await store.get_ticket(ticket.id)
    assert stored.timeline[-1].actor == "supervisor:wang"
    assert await store.client.zrange(store.keys.outbox_due, 0, -1) == []


async def test_a_non_ascii_signature_is_refused_not_a_server_error(client):
    http, store = client
    ticket = await _ticket(store)
    path = f"/api/v1/tickets/{ticket.id}/ack"
    headers = {
        "X-GW-Client": "nc12345",
        "X-GW-Signature": f"t={int(time.time())},v1=签名",
        "Content-Type": "application/json",
    }
    r = await http.post(path, data=b"{}", headers=headers)
    assert r.status == 401


async def test_a_centre_cannot_act_on_a_ticket_that_fell_back_to_110(client):
    http, store = client
    ticket = await _ticket(store)
    await store.mark_fallback(ticket.id, "trunk-BUSY")
    r = await http.post(f"/api/v1/tickets/{ticket.id}/ack", json={}, headers=auth("nc12345"))
    assert r.status == 404
    assert (await http.get(f"/api/v1/tickets/{ticket.id}", headers=auth("wang"))).status == 200
