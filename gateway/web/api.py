"""JSON API: receiving centres (acknowledge 处置, feedback 反馈, query) and staff
(board snapshot, live events, callbacks, statistics, dead letters, trunks, config).

Centres (role ``centre``, scope ``api_clients.<name>.centre`` = "<city>/<route>"):

    GET  /api/v1/tickets/{id}[?view=open311]      ticket JSON (gw.ticket/1) or Open311 view
    POST /api/v1/tickets/{id}/ack                 {"handler"?, "note"?}           → 处置
    POST /api/v1/tickets/{id}/feedback            {"outcome", "note"?}            → 反馈
         outcome: resolved | unresolved | referred | no_contact

Answers: 200 {"result": "applied"|"noop", "state", "ticket"}; a repeat is a 200 "noop".
Errors are JSON {"error", "detail"}: 400 bad_json/bad_query, 401 unauthenticated (missing,
unknown or forged credentials), 403 forbidden (role), 404 unknown_ticket (also for other
centres' tickets), 409 out_of_order (e.g. feedback before transfer; "detail" says why),
413 too_large, 415 unsupported_media_type, 422 missing_field/invalid_field,
503 store_unavailable.

Staff: /api/v1/calls, /calls/{id}, /events (SSE), /tickets?state=&city=, /callbacks,
/callbacks/{id}/done, /followups/manual, /alerts, /stats?from=&to=&city=&by=&format=csv,
/deadletters, /deadletters/{id}/requeue, /trunks, /config/check, and for supervisors
/tickets/{id}/followup {"result": 1|2}, /escalate {"reason"}, /close.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.configfile import ConfigError, load_model
from gateway.settings import Settings
from gateway.store import LoopKeeper, OutboxQueue, TicketStore
from gateway.store.errors import TicketNotFound
from gateway.tickets import stats as stats_rules
from gateway.tickets.loop import FEEDBACK_OUTCOMES, Step, Transition
from gateway.tickets.model import Ticket
from gateway.tickets.schema import to_json, to_open311
from gateway.web.auth import PRINCIPAL_KEY, Principal
from gateway.web.errors import error
from gateway.web.live import LiveFeed
from gateway.web.metrics import WebMetrics

TrunkHealth = Callable[[], Mapping[str, Any]]
MAX_NOTE = 2000
MAX_STATS_DAYS = 400


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL_KEY]


def require(request: web.Request, permission: str) -> Principal:
    principal = principal_of(request)
    if not principal.may(permission):
        raise error(403, "forbidden", f"role {principal.role} may not {permission}")
    return principal


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise error(415, "unsupported_media_type", "send Content-Type: application/json")
    raw = await request.read()
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(400, "bad_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise error(400, "bad_json", "body must be a JSON object")
    return data


def text_field(
    data: dict[str, Any], name: str, *, required: bool = False, limit: int = MAX_NOTE
) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise error(422, "invalid_field", f"'{name}' must be a string", field=name)
    if required and not value.strip():
        raise error(422, "missing_field", f"'{name}' is required", field=name)
    if len(value) > limit:
        raise error(422, "invalid_field", f"'{name}' is longer than {limit} characters", field=name)
    return value


def parse_day(value: str | None, default: date, name: str) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise error(400, "bad_query", f"'{name}' must be a date YYYY-MM-DD") from None


class Api:
    def __init__(
        self,
        settings: Settings,
        store: TicketStore,
        *,
        keeper: LoopKeeper,
        outbox: OutboxQueue,
        live: LiveFeed,
        metrics: WebMetrics,
        trunk_health: TrunkHealth | None = None,
        config_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keeper = keeper
        self.outbox = outbox
        self.live = live
        self.metrics = metrics
        self.trunk_health = trunk_health
        self.config_path = config_path

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v1/me", self.me),
            web.get("/api/v1/tickets", self.list_tickets),
            web.get("/api/v1/tickets/{id}", self.get_ticket),
            web.post("/api/v1/tickets/{id}/ack", self.acknowledge),
            web.post("/api/v1/tickets/{id}/feedback", self.feedback),
            web.post("/api/v1/tickets/{id}/followup", self.follow_up),
            web.post("/api/v1/tickets/{id}/escalate", self.escalate),
            web.post("/api/v1/tickets/{id}/close", self.close),
            web.get("/api/v1/calls", self.calls),
            web.get("/api/v1/calls/{id}", self.call),
            web.get("/api/v1/events", self.events),
            web.get("/api/v1/callbacks", self.callbacks),
            web.post("/api/v1/callbacks/{id}/done", self.callback_done),
            web.get("/api/v1/followups/manual", self.manual_followups),
            web.get("/api/v1/alerts", self.alerts),
            web.get("/api/v1/stats", self.stats),
            web.get("/api/v1/deadletters", self.dead_letters),
            web.post("/api/v1/deadletters/{id}/requeue", self.requeue),
            web.get("/api/v1/trunks", self.trunks),
            web.post("/api/v1/config/check", self.check_config),
        ]

    # ------------------------------------------------------------ tickets

    async def _ticket(self, request: web.Request, permission: str) -> tuple[Principal, Ticket]:
        principal = require(request, permission)
        ticket_id = request.match_info["id"]
        ticket = await self.store.get_ticket(ticket_id)
        # the route the ticket has now: one that fell back to 110 left the centre's hands
        if ticket is None or not principal.covers(ticket.city, ticket.route):
            # a centre learns nothing about other centres' tickets
            raise error(404, "unknown_ticket", f"no ticket {ticket_id}")
        return principal, ticket

    def _view(self, principal: Principal, ticket: Ticket, fmt: str) -> dict[str, Any]:
        if fmt == "open311":
            return to_open311(ticket)
        data = to_json(ticket)
        if principal.role == "centre":
            data["timeline"] = [e for e in data["timeline"] if e["state"] != "note"]
        return data

    async def me(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        return web.json_response({"name": p.name, "role": p.role, "centre": p.centre})

    async def get_ticket(self, request: web.Request) -> web.Response:
        fmt = request.query.get("view", "gw")
        if fmt not in ("gw", "open311"):
            raise error(400, "bad_query", "view must be 'gw' or 'open311'")
        principal, ticket = await self._ticket(request, "ticket.read")
        return web.json_response(self._view(principal, ticket, fmt))

    async def list_tickets(self, request: web.Request) -> web.Response:
        require(request, "board")
        try:
            limit = min(500, max(1, int(request.query.get("limit", "100"))))
        except ValueError:
            raise error(400, "bad_query", "limit must be a number") from None
        tickets = await self.store.list_tickets(
            limit=limit, state=request.query.get("state"), city=request.query.get("city")
        )
        return web.json_response([to_json(t) for t in tickets])

    async def _step(
        self, request: web.Request, permission: str, step: Step, detail: dict[str, Any]
    ) -> web.Response:
        principal, ticket = await self._ticket(request, permission)
        actor = f"{principal.role}:{principal.name}"
        try:
            if step is Step.ESCALATE:
                result = await self.keeper.escalate(
                    ticket, detail.get("reason", ""), datetime.now(UTC), actor=actor
                )
            else:
                result = await self.store.transition(ticket.id, step, actor=actor, detail=detail)
        except TicketNotFound:
            raise error(404, "unknown_ticket", f"no ticket {ticket.id}") from None
        return self._step_answer(step, result)

    def _step_answer(self, step: Step, result: Transition) -> web.Response:
        self.metrics.loop_steps.labels(step.value, result.verdict.value).inc()
        if result.verdict.value == "refused":
            raise error(409, "out_of_order", result.reason, state=result.ticket.state.value)
        return web.json_response(
            {
                "result": result.verdict.value,
                "reason": result.reason,
                "state": result.ticket.state.value,
                "ticket": result.ticket.id,
            }
        )

    async def acknowledge(self, request: web.Request) -> web.Response:
        data = await json_body(request)
        detail = {
            "note": text_field(data, "note"),
            "handler": text_field(data, "handler", limit=200),
        }
        return await self._step(
            request, "ticket.ack", Step.ACKNOWLEDGE, {k: v for k, v in detail.items() if v}
        )

    async def feedback(self, request: web.Request) -> web.Response:
        data = await json_body(request)
        outcome = text_field(data, "outcome", required=True, limit=40)
        if outcome not in FEEDBACK_OUTCOMES:
            raise error(
                422,
                "invalid_field",
                f"'outcome' must be one of {sorted(FEEDBACK_OUTCOMES)}",
                field="outcome",
            )
        detail = {"outcome": outcome, "note": text_field(data, "note")}
        return await self._step(request, "ticket.feedback", Step.FEEDBACK, detail)

    async def follow_up(self, request: web.Request) -> web.Response:
        require(request, "ticket.manage")
        data = await json_body(request)
        result = data.get("result")
        if str(result) not in ("1", "2"):
            raise error(
                422, "invalid_field", "'result' must be 1 (satisfied) or 2 (not)", field="result"
            )
        principal, ticket = await self._ticket(request, "ticket.manage")
        outcome = await self.keeper.survey_result(
            ticket.id, str(result), actor=f"{principal.role}:{principal.name}"
        )
        return self._step_answer(Step.FOLLOW_UP, outcome)

    async def escalate(self, request: web.Request) -> web.Response:
        data = await json_body(request)
        reason = text_field(data, "reason", required=True, limit=500)
        return await self._step(request, "ticket.manage", Step.ESCALATE, {"reason": reason})

    async def close(self, request: web.Request) -> web.Response:
        data = await json_body(request)
        return await self._step(
            request, "ticket.manage", Step.CLOSE, {"note": text_field(data, "note")}
        )

    # ------------------------------------------------------------ board

    async def calls(self, request: web.Request) -> web.Response:
        require(request, "calls")
        calls = await self.store.recent_calls(100)
        for call in calls:
            call.pop("caller", None)  # the board shows masked numbers only
        return web.json_response(calls)

    async def call(self, request: web.Request) -> web.Response:
        require(request, "calls")
        record = await self.store.get_call(request.match_info["id"])
        if record is None:
            raise error(404, "unknown_call", "no such call (or its record expired)")
        record.pop("caller", None)
        return web.json_response(record)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: every board event as ``data: <json>``."""
        require(request, "board")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue = self.live.subscribe()
        self.metrics.sse_clients.inc()
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                payload = json.dumps(event, ensure_ascii=False)
                await response.write(f"id: {event['id']}\ndata: {payload}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.live.unsubscribe(queue)
            self.metrics.sse_clients.dec()
        return response

    async def callbacks(self, request: web.Request) -> web.Response:
        require(request, "callbacks")
        tasks = await self.store.list_callbacks(status=request.query.get("status", "open"))
        for task in tasks:  # the full number stays: the call-taker must dial it
            task["caller_masked"] = _mask(task["caller"])
        return web.json_response(tasks)

    async def callback_done(self, request: web.Request) -> web.Response:
        principal = require(request, "callbacks")
        data = await json_body(request)
        done = await self.store.resolve_callback(
            request.match_info["id"],
            actor=f"{principal.role}:{principal.name}",
            note=text_field(data, "note"),
        )
        if not done:
            raise error(404, "unknown_callback", "no such call-back task")
        return web.json_response({"result": "done"})

    async def manual_followups(self, request: web.Request) -> web.Response:
        require(request, "ticket.manage")
        return web.json_response([to_json(t) for t in await self.store.manual_followups()])

    async def alerts(self, request: web.Request) -> web.Response:
        require(request, "alerts")
        return web.json_response(await self.store.alerts())

    # ------------------------------------------------------------ statistics

    async def stats(self, request: web.Request) -> web.Response:
        require(request, "stats")
        today = datetime.now(stats_rules.STATS_TZ).date()
        last = parse_day(request.query.get("to"), today, "to")
        first = parse_day(request.query.get("from"), last - timedelta(days=29), "from")
        if first > last:
            raise error(400, "bad_query", "'from' is after 'to'")
        if (last - first).days > MAX_STATS_DAYS:
            raise error(400, "bad_query", f"at most {MAX_STATS_DAYS} days per query")
        group_by = tuple(k for k in request.query.get("by", "city").split(",") if k)
        unknown = [k for k in group_by if k not in stats_rules.GROUP_KEYS]
        if unknown or not group_by:
            raise error(400, "bad_query", f"'by' takes {', '.join(stats_rules.GROUP_KEYS)}")
        rows = await self.store.stats(
            first, last, group_by=group_by, city=request.query.get("city") or None
        )
        if request.query.get("format") == "csv":
            return web.Response(text=stats_rules.to_csv(rows, group_by), content_type="text/csv")
        return web.json_response(
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "by": list(group_by),
                "rows": [r.as_dict() for r in rows],
                "total": stats_rules.total(rows).as_dict(),
            }
        )

    # ------------------------------------------------------------ operations

    async def dead_letters(self, request: web.Request) -> web.Response:
        require(request, "deadletters")
        return web.json_response(
            {"dead": await self.outbox.dead_letters(), "counts": await self.outbox.counts()}
        )

    async def requeue(self, request: web.Request) -> web.Response:
        require(request, "deadletters.requeue")
        if not await self.outbox.requeue(request.match_info["id"], datetime.now(UTC)):
            raise error(404, "unknown_message", "no such dead letter")
        return web.json_response({"result": "requeued"})

    async def trunks(self, request: web.Request) -> web.Response:
        require(request, "trunks")
        health = dict(self.trunk_health()) if self.trunk_health else {}
        rows = []
        for name, trunk in self.settings.trunks.items():
            rows.append(
                {
                    "trunk": name,
                    "dial": trunk.dial,
                    "max_calls": trunk.max_calls,
                    "hours": trunk.hours,
                    **_health_of(health.get(name)),
                }
            )
        return web.json_response(rows)

    async def check_config(self, request: web.Request) -> web.Response:
        """Validate a posted gateway.yaml (body: the YAML text) without applying it."""
        require(request, "config")
        text = await request.text()
        if not text.strip():
            if self.config_path is None:
                raise error(400, "empty_body", "post the YAML text to check")
            return web.json_response(_check(self.config_path))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "posted.yaml"
            path.write_text(text, encoding="utf-8")
            return web.json_response(_check(path, shown="posted.yaml"))


def _check(path: Path, shown: str | None = None) -> dict[str, Any]:
    try:
        settings = load_model(path, Settings)
    except ConfigError as exc:
        return {
            "ok": False,
            "problems": [
                {"file": shown or p.file, "line": p.line, "field": p.field, "reason": p.reason}
                for p in exc.problems
            ],
        }
    return {
        "ok": True,
        "problems": [],
        "cities": len(settings.cities),
        "trunks": len(settings.trunks),
    }


def _health_of(value: Any) -> dict[str, Any]:
    if value is None:
        return {"status": "unknown"}
    if isinstance(value, Mapping):
        return dict(value)
    return {"status": str(value)}


def _mask(number: str) -> str:
    from gateway.logs import mask_number

    return mask_number(number)
