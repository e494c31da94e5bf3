"""A real Asterisk 22 process with the shipped configs, for one test session.

The build comes from ``./dev.sh asterisk`` (docker/asterisk/build-local.sh), found in
``$ASTERISK_PREFIX`` or the build script's cache directory.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from gateway.retry import bounded
from tests.asterisk.config_tree import TreeSpec, render
from tests.asterisk.polling import poll_until

VERSION = "22.10.1"
ENABLE_HINT = "real-Asterisk tests skipped: run ./dev.sh asterisk once to build Asterisk 22"


def cache_dir() -> Path:
    base = os.environ.get("GATEWAY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hotline-gateway"
    )
    return Path(base)


def find_build() -> Path | None:
    """The install prefix of a finished build, or None."""
    explicit = os.environ.get("ASTERISK_PREFIX")
    prefix = Path(explicit) if explicit else cache_dir() / f"asterisk-{VERSION}"
    if (prefix / "sbin" / "asterisk").is_file() and (prefix / ".built").is_file():
        return prefix
    return None


_PROBLEM = re.compile(r"\b(ERROR|WARNING)\b")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class AsteriskServer:
    def __init__(self, build: Path, workdir: Path, spec: TreeSpec) -> None:
        self.build = build
        self.workdir = workdir
        self.spec = spec
        self.binary = build / "sbin" / "asterisk"
        self.conf: Path | None = None
        self.console_log = workdir / "console.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def sip_address(self) -> str:
        return f"127.0.0.1:{self.spec.ports.sip}"

    async def start(self, timeout: float = 30.0) -> AsteriskServer:
        self.conf = render(self.spec, self.workdir)
        log = self.console_log.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            str(self.binary),
            "-f",
            "-n",
            "-C",
            str(self.conf),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        await poll_until(self._booted, timeout, "Asterisk to boot")
        return self

    async def _booted(self) -> bool:
        if self.proc is not None and self.proc.returncode is not None:
            raise RuntimeError(f"Asterisk exited at start; see {self.console_log}")
        code, _ = await self._rx("core waitfullybooted")  # fails until the socket exists
        return code == 0

    async def _rx(self, command: str) -> tuple[int, str]:
        assert self.conf is not None
        proc = await asyncio.create_subprocess_exec(
            str(self.binary),
            "-C",
            str(self.conf),
            "-rx",
            command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode(errors="replace")

    async def cli(self, command: str) -> str:
        """A console command (the test's own control; the gateway never has this)."""
        code, out = await bounded(self._rx(command), 10.0, f"asterisk -rx {command!r}")
        if code != 0:
            raise RuntimeError(f"asterisk -rx {command!r} failed: {out}")
        return out

    def console(self) -> str:
        return _ANSI.sub("", self.console_log.read_text(errors="replace"))

    def problems(self) -> list[str]:
        """ERROR and WARNING lines Asterisk printed so far."""
        return [line for line in self.console().splitlines() if _PROBLEM.search(line)]

    async def hang_up_everything(self) -> None:
        await self.cli("channel request hangup all")

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            await self.cli("core stop now")
            await bounded(self.proc.wait(), 10.0, "Asterisk to stop")
        except Exception:
            self.proc.kill()
            await self.proc.wait()
