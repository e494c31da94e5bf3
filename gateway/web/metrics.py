"""Prometheus metrics of the web app and the ticket loop (one registry per app)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class WebMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "gw_http_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.loop_steps = Counter(
            "gw_loop_steps", "loop steps requested through the API", ["step", "verdict"], registry=r
        )
        self.redis_up = Gauge("gw_redis_up", "1 when Redis answered the last check", registry=r)
        self.outbox_pending = Gauge("gw_outbox_pending", "webhooks waiting to be sent", registry=r)
        self.outbox_dead = Gauge("gw_outbox_dead", "webhooks on the dead-letter list", registry=r)
        self.outbox_delivered = Gauge(
            "gw_outbox_delivered", "webhooks delivered (all time)", registry=r
        )
        self.sse_clients = Gauge("gw_board_clients", "live board connections", registry=r)
