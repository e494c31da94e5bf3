"""A PBX double whose AudioSocket target refuses (calls fall through to route-110)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from gateway.ami import AmiClient
from gateway.pbx_double import PbxDouble
from gateway.settings import AmiSettings

CITIES = {"0791110": ("nanchang", "PJSIP/110@nanchang-110")}
SECRET = "gateway-secret"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ami_settings(port: int, **overrides: float) -> AmiSettings:
    values: dict[str, float] = {
        "action_timeout": 1.0,
        "ping_interval": 5.0,
        "ping_timeout": 0.5,
        "reconnect_initial": 0.05,
        "reconnect_max": 0.2,
        "login_retry": 0.3,
        **overrides,
    }
    return AmiSettings.model_validate({"host": "127.0.0.1", "port": port, **values})


@pytest.fixture
async def double() -> AsyncIterator[PbxDouble]:
    pbx = PbxDouble(
        audiosocket=("127.0.0.1", closed_port()),
        users={"gateway": SECRET},
        cities=CITIES,
        auth_failure_delay=0.05,
        ring_time=0.01,
        noanswer_after=0.05,
        retry_110_after=0.05,
    )
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def client(double: PbxDouble) -> AsyncIterator[AmiClient]:
    ami = AmiClient(ami_settings(double.ami_port), secret=SECRET)
    await ami.start()
    await ami.wait_ready(5)
    yield ami
    await ami.close()
