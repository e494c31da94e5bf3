"""The operators' web app: centre API, live board, ticket detail, statistics, trunk
health, config check, Prometheus metrics, health and readiness.

``create_app(settings, store, ...)`` returns an aiohttp Application; its start-up
starts the live feed (and nothing else: the outbox worker and the loop keeper are
started by the composition root).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.logs import get_logger
from gateway.settings import Settings
from gateway.store import LoopKeeper, OutboxQueue, StoreUnavailable, TicketStore
from gateway.web.api import Api, TrunkHealth
from gateway.web.auth import COOKIE, PRINCIPAL_KEY, Authenticator
from gateway.web.errors import error
from gateway.web.live import LiveFeed
from gateway.web.metrics import WebMetrics

log = get_logger("gateway.web")
STATIC = Path(__file__).resolve().parent / "static"
PUBLIC = frozenset({"/healthz", "/readyz", "/metrics", "/login", "/logout"})
PAGES = {"/": "board.html", "/board": "board.html", "/stats": "stats.html", "/ops": "ops.html"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

AUTH_KEY = web.AppKey("auth", Authenticator)
METRICS_KEY = web.AppKey("metrics", WebMetrics)
LIVE_KEY = web.AppKey("live", LiveFeed)


def _is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith("/static/")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS_KEY]
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        metrics.requests.labels(name, str(exc.status)).inc()
        if exc.content_type != "application/json" and request.path.startswith("/api/"):
            raise error_for(exc) from None
        raise
    except StoreUnavailable as exc:
        metrics.requests.labels(name, "503").inc()
        log.warning("store_unavailable", path=request.path, error=str(exc))
        raise error(503, "store_unavailable", "state store is unavailable; retry") from None
    metrics.requests.labels(name, str(response.status)).inc()
    return response


def error_for(exc: web.HTTPException) -> web.HTTPException:
    """aiohttp's own errors (413, 404, 405 …) as JSON for API clients."""
    if exc.status == 413:
        return error(413, "too_large", "request body is larger than http.max_body")
    codes = {404: "not_found", 405: "method_not_allowed"}
    status = exc.status if exc.status in (400, 401, 403, 404, 409, 415, 422, 503) else 400
    if exc.status == 405:
        resp = web.HTTPMethodNotAllowed(
            method="?",
            allowed_methods=(),
            text=web.json_response({"error": "method_not_allowed", "detail": exc.reason}).text,
            content_type="application/json",
        )
        return resp
    return error(status, codes.get(exc.status, "bad_request"), exc.reason)


def body_limit_middleware(max_body: int) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > max_body:
            raise error(
                413,
                "too_large",
                f"body of {length} bytes exceeds the limit of {max_body}",
                max=max_body,
                actual=length,
            )
        return await handler(request)

    return limit


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_public(request.path):
        return await handler(request)
    principal, why = await request.app[AUTH_KEY].identify(request)
    if principal is None:
        if request.path.startswith("/api/"):
            raise error(401, "unauthenticated", why)
        raise web.HTTPFound("/login")
    request[PRINCIPAL_KEY] = principal
    return await handler(request)


def create_app(
    settings: Settings,
    store: TicketStore,
    *,
    keeper: LoopKeeper | None = None,
    trunk_health: TrunkHealth | None = None,
    config_path: Path | None = None,
    live_block_ms: int = 2000,
) -> web.Application:
    """The web app. ``trunk_health()`` returns {trunk name: {"status": "up"|"down", ...}};
    ``keeper`` is shared with the periodic sweep (one is made when omitted)."""
    app = web.Application(
        client_max_size=settings.http.max_body,
        middlewares=[
            body_limit_middleware(settings.http.max_body),
            errors_middleware,
            auth_middleware,
        ],
    )
    metrics = WebMetrics()
    live = LiveFeed(store.events, settings.redis, block_ms=live_block_ms)
    app[AUTH_KEY] = Authenticator(settings.api_clients)
    app[METRICS_KEY] = metrics
    app[LIVE_KEY] = live
    outbox = OutboxQueue(store)
    api = Api(
        settings,
        store,
        keeper=keeper or LoopKeeper(store, settings.loop),
        outbox=outbox,
        live=live,
        metrics=metrics,
        trunk_health=trunk_health,
        config_path=config_path,
    )
    app.add_routes(api.routes())

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(_: web.Request) -> web.Response:
        ok = await store.ping()
        metrics.redis_up.set(1 if ok else 0)
        return web.json_response({"redis": "up" if ok else "down"}, status=200 if ok else 503)

    async def metrics_page(_: web.Request) -> web.Response:
        try:
            counts = await outbox.counts()
            metrics.outbox_pending.set(counts.get("pending", 0))
            metrics.outbox_dead.set(counts.get("dead_now", 0))
            metrics.outbox_delivered.set(counts.get("delivered", 0))
            metrics.redis_up.set(1)
        except StoreUnavailable:
            metrics.redis_up.set(0)
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def login_page(_: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "login.html")

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        token = str(form.get("token", ""))
        if not app[AUTH_KEY].by_token(token):
            raise web.HTTPFound("/login?failed=1")
        response = web.HTTPFound("/")
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=request.secure)
        raise response

    async def logout(_: web.Request) -> web.Response:
        response = web.HTTPFound("/login")
        response.del_cookie(COOKIE)
        raise response

    def page(name: str) -> Handler:
        async def serve(request: web.Request) -> web.StreamResponse:
            if not request[PRINCIPAL_KEY].may("board") and name == "board.html":
                raise web.HTTPForbidden(text="此角色无权查看")
            return web.FileResponse(STATIC / name)

        return serve

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_get("/logout", logout)
    for path, name in PAGES.items():
        app.router.add_get(path, page(name))
    app.router.add_get("/tickets/{id}", page("ticket.html"))
    app.router.add_static("/static/", STATIC)

    async def start_live(_: web.Application) -> None:
        await live.start()

    async def stop_live(_: web.Application) -> None:
        await live.stop()

    app.on_startup.append(start_live)
    app.on_cleanup.append(stop_live)
    return app
