"""The gateway as its own process (``python -m gateway run``), for tests that kill or
freeze it: SIGKILL and SIGSTOP must leave the caller with 110, whatever the process did."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gateway.settings import Settings
from tests.asterisk.polling import poll_until


class GatewayProcess:
    def __init__(self, settings: Settings, secret: str, workdir: Path, scripts: dict[str, str]):
        self.settings = settings
        self.secret = secret
        self.workdir = workdir
        self.scripts = scripts  # caller number -> words (scripted speech after the audio stage)
        self.log_file = workdir / "gateway.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> GatewayProcess:
        config = self.workdir / "gateway.yaml"
        config.write_text(yaml.safe_dump(self.settings.model_dump(mode="json")), encoding="utf-8")
        scripts = self.workdir / "speech.json"
        scripts.write_text(json.dumps(self.scripts, ensure_ascii=False), encoding="utf-8")
        env = {**os.environ, "GATEWAY_AMI_SECRET": self.secret}
        log = self.log_file.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway",
            "--log-json",
            "run",
            "--config",
            str(config),
            "--scripted-speech",
            str(scripts),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        await poll_until(self._started, 20, "the gateway process to start")
        return self

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_file.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines

    async def _started(self) -> bool:
        if self.proc is not None and self.proc.returncode is not None:
            raise RuntimeError(f"gateway exited: {self.log_file.read_text()[-2000:]}")
        return any(line.get("event") == "trunk health read" for line in self.log_lines())

    async def logged(self, match: Callable[[dict[str, Any]], bool], timeout: float, what: str):
        """The first log line ``match`` accepts, once the process has written it."""

        async def found() -> dict[str, Any] | None:
            return next((line for line in self.log_lines() if match(line)), None)

        return await poll_until(found, timeout, what)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGCONT)
        self.proc.kill()
        await self.proc.wait()
