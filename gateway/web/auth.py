"""Who is calling the web app, and what their role lets them do.

Credentials, in order: ``Authorization: Bearer <token>``; the ``gw_token`` cookie set
by /login (browsers); or an HMAC signature (centres that prefer not to send the token):
``X-GW-Client: <client name>`` and ``X-GW-Signature: t=<unix>,v1=<hex>`` where the MAC,
keyed with the client's token, covers ``"<t>." + "<METHOD> <path?query>\\n" + body``.
Tokens come from settings.api_clients (SecretRef), never from the repo.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from aiohttp import web

from gateway.logs import get_logger
from gateway.outbox.signing import SIGNATURE_HEADER, verify
from gateway.settings import ApiClient

log = get_logger("gateway.web.auth")
COOKIE = "gw_token"
CLIENT_HEADER = "X-GW-Client"

PERMISSIONS: dict[str, frozenset[str]] = {
    "centre": frozenset({"ticket.read", "ticket.ack", "ticket.feedback"}),
    "calltaker": frozenset({"board", "ticket.read", "calls", "callbacks"}),
    "supervisor": frozenset(
        {
            "board",
            "ticket.read",
            "ticket.ack",
            "ticket.feedback",
            "ticket.manage",
            "calls",
            "callbacks",
            "stats",
            "deadletters",
            "deadletters.requeue",
            "alerts",
            "trunks",
        }
    ),
    "engineer": frozenset({"board", "stats", "trunks", "config", "deadletters", "alerts"}),
}


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    token: str
    centre: str | None = None  # "<city>/<route>", "*/<route>" or "*/*" for centres

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    def covers(self, city: str, route: str) -> bool:
        """A centre sees only tickets of its city and route; staff see all."""
        if self.role != "centre":
            return True
        if not self.centre:
            return False
        want_city, _, want_route = self.centre.partition("/")
        return want_city in ("*", city) and want_route in ("*", route)


PRINCIPAL_KEY = web.RequestKey("principal", Principal)


class Authenticator:
    def __init__(self, clients: dict[str, ApiClient]) -> None:
        self.principals: dict[str, Principal] = {}
        for name, client in clients.items():
            token = client.token.resolve()
            if not token:
                log.warning("api_client_without_token", client=name, where=client.token.describe())
                continue
            self.principals[name] = Principal(name, client.role, token, client.centre)

    def by_token(self, token: str) -> Principal | None:
        found = None
        for principal in self.principals.values():
            if hmac.compare_digest(principal.token.encode(), token.encode()):
                found = principal
        return found

    async def identify(self, request: web.Request) -> tuple[Principal | None, str]:
        """(principal, '') or (None, why not)."""
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None, "Authorization must be 'Bearer <token>'"
            principal = self.by_token(token.strip())
            return (principal, "") if principal else (None, "unknown token")
        if CLIENT_HEADER in request.headers:
            return await self._by_signature(request)
        cookie = request.cookies.get(COOKIE)
        if cookie:
            principal = self.by_token(cookie)
            return (principal, "") if principal else (None, "session token no longer valid")
        return None, "credentials required (Bearer token or signature)"

    async def _by_signature(self, request: web.Request) -> tuple[Principal | None, str]:
        principal = self.principals.get(request.headers[CLIENT_HEADER])
        if principal is None:
            return None, "unknown client"
        body = await request.read()
        message = f"{request.method} {request.path_qs}\n".encode() + body
        problem = verify(
            principal.token, message, request.headers.get(SIGNATURE_HEADER, ""), int(time.time())
        )
        return (principal, "") if not problem else (None, problem)
