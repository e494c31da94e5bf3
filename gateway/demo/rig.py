"""A whole gateway against the PBX double on loopback: the demo, the end-to-end tests
and the call benchmark all use this one rig."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from gateway.app import Gateway, SpeechFactory
from gateway.call_session import CallInfo, HandOff
from gateway.embedded_redis import free_port
from gateway.pbx_double import PbxDouble
from gateway.retry import bounded
from gateway.settings import Settings


@dataclass
class Outcomes:
    """Hand-offs reported by the gateway, by caller number."""

    by_caller: dict[str, HandOff] = field(default_factory=dict)
    infos: dict[str, CallInfo] = field(default_factory=dict)
    _arrived: dict[str, asyncio.Event] = field(default_factory=dict)

    def record(self, info: CallInfo, outcome: HandOff) -> None:
        self.by_caller[info.caller] = outcome
        self.infos[info.caller] = info
        self._arrived.setdefault(info.caller, asyncio.Event()).set()

    async def wait_for(self, caller: str, timeout: float = 10.0) -> HandOff:
        """The hand-off of ``caller``'s call, once the gateway's session has finished."""
        await bounded(
            self._arrived.setdefault(caller, asyncio.Event()).wait(),
            timeout,
            f"hand-off of {caller}",
        )
        return self.by_caller[caller]


def rig_settings(
    base: Settings,
    *,
    redis_url: str,
    http_port: int = 0,
    spool_file: Path | None = None,
    **ivr: Any,
) -> Settings:
    """The base config on loopback: free ports, the given Redis, optional IVR overrides."""
    return base.model_copy(
        update={
            "ami": base.ami.model_copy(update={"host": "127.0.0.1", "port": 1}),
            "audiosocket": base.audiosocket.model_copy(
                update={"host": "127.0.0.1", "port": free_port()}
            ),
            "redis": base.redis.model_copy(update={"url": redis_url, "spool_file": spool_file}),
            "http": base.http.model_copy(update={"host": "127.0.0.1", "port": http_port}),
            "ivr": base.ivr.model_copy(update=ivr),
        }
    )


class Rig:
    def __init__(
        self,
        settings: Settings,
        *,
        speech: SpeechFactory | None = None,
        serve_http: bool = False,
        on_hand_off: Callable[[CallInfo, HandOff], None] | None = None,
        double_options: dict[str, Any] | None = None,
        local_time: Callable[[], time] | None = None,
    ) -> None:
        self._local_time = local_time
        self.secret = secrets.token_hex(12)  # made per run: no secret lives in the repo
        self.outcomes = Outcomes()
        self._base = settings
        self._speech = speech
        self._serve_http = serve_http
        self._extra_hand_off = on_hand_off
        self._double_options = double_options or {}
        self.double: PbxDouble | None = None
        self.gateway: Gateway | None = None
        self.settings = settings

    async def start(self) -> Rig:
        audio = self._base.audiosocket
        self.double = PbxDouble.from_settings(
            self._base,
            users={self._base.ami.username: self.secret},
            audiosocket=(audio.host, audio.port),
            **self._double_options,
        )
        await self.double.start()
        self.settings = self._base.model_copy(
            update={"ami": self._base.ami.model_copy(update={"port": self.double.ami_port})}
        )
        await self.start_gateway()
        return self

    async def start_gateway(self) -> Gateway:
        """(Re)start the gateway process part (tests kill and restart it)."""
        self.gateway = Gateway(
            self.settings,
            ami_secret=self.secret,
            speech=self._speech,
            on_hand_off=self._hand_off,
            serve_http=self._serve_http,
            local_time=self._local_time,
        )
        await self.gateway.start()
        await self.gateway.ami.wait_ready(timeout=10)
        await bounded(self.gateway.trunk_health_read.wait(), 10, "trunk health")
        return self.gateway

    def _hand_off(self, info: CallInfo, outcome: HandOff) -> None:
        self.outcomes.record(info, outcome)
        if self._extra_hand_off is not None:
            self._extra_hand_off(info, outcome)

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
            self.gateway = None
        if self.double is not None:
            await self.double.stop()
            self.double = None

    async def __aenter__(self) -> Rig:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
