"""Vosk models on disk: the catalogue, download with resume, atomic install, verification.

A model is installed only whole: the zip is downloaded to ``.downloads/NAME.zip.part``
(resumed with an HTTP Range request after an interruption), checked (size, sha256 when
known, every member's CRC), unpacked into a temporary directory beside the target,
loaded once with Vosk, and only then renamed into place. An interruption at any point
leaves either the old model or no model, never half of one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp

from gateway.asr.audio import model_sample_rate
from gateway.asr.engine import check_model_dir, load_vosk_model
from gateway.asr.errors import AsrError

OFFICIAL_BASE_URL = "https://alphacephei.com/vosk/models"
BASE_URL_ENV = "GATEWAY_MODELS_URL"  # a mirror, or a local server in tests
DEFAULT_MODEL = "vosk-model-small-cn-0.22"
DOWNLOADS = ".downloads"
CHUNK = 256 * 1024


class ModelError(AsrError):
    """A model could not be fetched, checked or installed; nothing half-done is left."""


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    locale: str
    approx_mb: int
    runtime_grammar: bool
    size: int | None = None  # exact zip size in bytes, when known
    sha256: str | None = None  # of the zip, when known
    note: str = ""


# Exact sizes/checksums are not published beside the official zips; none is recorded
# here until one is measured on a trusted download. Until then integrity rests on the
# server's Content-Length, every member's CRC-32 and a successful load.
CATALOGUE: dict[str, CatalogueEntry] = {
    entry.name: entry
    for entry in (
        CatalogueEntry(
            "vosk-model-small-cn-0.22", "zh-CN", 42, True, note="default; 16 kHz; grammars"
        ),
        CatalogueEntry(
            "vosk-model-cn-0.22", "zh-CN", 1300, False, note="large, more accurate; ~4 GB RAM"
        ),
    )
}


@dataclass(frozen=True)
class ModelReport:
    name: str
    path: Path
    sample_rate: int
    runtime_grammar: bool
    load_seconds: float


ProgressFn = Callable[[int, int | None], None]
CheckFn = Callable[[Path, str], object]


def base_url() -> str:
    return os.environ.get(BASE_URL_ENV, OFFICIAL_BASE_URL).rstrip("/")


def model_url(name: str, base: str | None = None) -> str:
    return f"{(base or base_url()).rstrip('/')}/{name}.zip"


def supports_runtime_grammar(path: Path) -> bool:
    """Small models ship HCLr.fst + Gr.fst (composed at run time): grammars work."""
    return (path / "graph" / "HCLr.fst").is_file() and (path / "graph" / "Gr.fst").is_file()


def installed_models(model_dir: Path) -> list[Path]:
    if not model_dir.is_dir():
        return []
    return sorted(
        p
        for p in model_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "am" / "final.mdl").is_file()
    )


def verify(name: str, model_dir: Path) -> ModelReport:
    """Load the installed model with Vosk; ModelUnavailable naming the pull command if not."""
    path = model_dir / name
    started = time.monotonic()
    load_vosk_model(path, name)
    return ModelReport(
        name,
        path,
        model_sample_rate(path),
        supports_runtime_grammar(path),
        time.monotonic() - started,
    )


# ---- download ----


async def download(
    url: str,
    part: Path,
    *,
    progress: ProgressFn | None = None,
    read_timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` into ``part``, resuming what is already there; return the .part path.

    Raises ModelError on HTTP errors and on a body shorter than announced (the partial
    file stays for the next attempt to resume).
    """
    try:
        return await _fetch(url, part, progress, read_timeout)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ModelError(
            f"download of {url} interrupted ({exc.__class__.__name__}: {exc}); "
            "run the same command again to resume"
        ) from exc


async def _fetch(url: str, part: Path, progress: ProgressFn | None, read_timeout: float) -> Path:
    have = _existing_size(part)
    headers = {"Range": f"bytes={have}-"} if have else {}
    client_timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=read_timeout, sock_read=read_timeout
    )
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.get(url, headers=headers) as response,
    ):
        if response.status == 416 and have:  # asked past the end: start again cleanly
            _discard(part)
            return await _fetch(url, part, progress, read_timeout)
        if response.status not in (200, 206):
            raise ModelError(f"download of {url} failed: HTTP {response.status}")
        resumed = response.status == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(
            f"bytes {have}-"
        ):  # a range we did not ask for: the .part cannot be trusted
            _discard(part)
            raise ModelError(f"download of {url}: unexpected Content-Range; run it again")
        total = _total_size(response, have if resumed else 0)
        done = have if resumed else 0
        with _open_part(part, append=resumed) as out:
            async for block in response.content.iter_chunked(CHUNK):
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
    if total is not None and done != total:
        raise ModelError(f"download of {url} incomplete: {done} of {total} bytes")
    return part


def _existing_size(part: Path) -> int:
    part.parent.mkdir(parents=True, exist_ok=True)
    return part.stat().st_size if part.exists() else 0


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)


def _open_part(part: Path, *, append: bool) -> IO[bytes]:
    return part.open("ab" if append else "wb")


def _total_size(response: aiohttp.ClientResponse, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def check_archive(archive: Path, entry: CatalogueEntry | None) -> None:
    """Size and sha256 against the catalogue (when known), then every member's CRC."""
    if entry is not None and entry.size is not None and archive.stat().st_size != entry.size:
        raise ModelError(f"{archive.name}: {archive.stat().st_size} bytes, expected {entry.size}")
    if entry is not None and entry.sha256 is not None:
        digest = sha256_of(archive)
        if digest != entry.sha256:
            raise ModelError(f"{archive.name}: sha256 {digest} does not match {entry.sha256}")
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{archive.name} is not a valid zip ({exc})") from exc
    if bad is not None:
        raise ModelError(f"{archive.name}: member {bad} is corrupt (CRC mismatch)")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- install ----


def install_archive(
    archive: Path, name: str, model_dir: Path, *, check: CheckFn, force: bool = False
) -> Path:
    """Unpack into a temp dir beside the target, check it loads, rename it into place."""
    target = model_dir / name
    if target.exists() and not force:
        raise ModelError(f"{target} already exists (use --force to replace it)")
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.unpack-", dir=model_dir))
    try:
        root = _extract(archive, staging)
        try:
            check_model_dir(root, name)
            check(root, name)
        except AsrError as exc:
            raise ModelError(f"{archive.name} does not hold a usable model: {exc}") from exc
        _swap_into_place(root, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _extract(archive: Path, staging: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():  # no member may land outside the staging dir
            resolved = (staging / member).resolve()
            if not resolved.is_relative_to(staging.resolve()):
                raise ModelError(f"{archive.name}: unsafe member path {member!r}")
        zf.extractall(staging)
    tops = [p for p in staging.iterdir() if not p.name.startswith("__MACOSX")]
    return tops[0] if len(tops) == 1 and tops[0].is_dir() else staging


def _swap_into_place(new: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
    try:
        os.rename(new, target)  # same directory, same filesystem: atomic
    except OSError:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


async def pull(
    name: str,
    model_dir: Path,
    *,
    base: str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
    check: CheckFn = load_vosk_model,
    catalogue: dict[str, CatalogueEntry] | None = None,
) -> Path:
    """Download, check, install and load-test model ``name``; the installed path."""
    entry = (catalogue if catalogue is not None else CATALOGUE).get(name)
    target = model_dir / name
    if target.exists() and not force:
        check_model_dir(target, name)
        return target
    part = model_dir / DOWNLOADS / f"{name}.zip.part"
    await download(model_url(name, base), part, progress=progress)
    try:
        check_archive(part, entry)
        return install_archive(part, name, model_dir, check=check, force=force)
    finally:  # a complete but bad archive must not be "resumed" next time
        _discard(part)


class ProgressBar:
    """Plain progress on stderr: a redrawn line on a terminal, a line per 10 % otherwise."""

    def __init__(self, label: str, stream: IO[str] | None = None) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._started = time.monotonic()
        self._last_step = -1

    def __call__(self, done: int, total: int | None) -> None:
        mb = done / 1e6
        rate = mb / max(time.monotonic() - self._started, 1e-6)
        if total:
            percent = 100 * done / total
            step = int(percent // 10)
            line = (
                f"{self._label}: {percent:5.1f} % {mb:8.1f}/{total / 1e6:.1f} MB {rate:6.1f} MB/s"
            )
        else:
            step = int(mb // 10)
            line = f"{self._label}: {mb:8.1f} MB {rate:6.1f} MB/s"
        if self._tty:
            self._stream.write("\r" + line)
        elif step != self._last_step:
            self._stream.write(line + "\n")
        self._last_step = step
        self._stream.flush()

    def close(self) -> None:
        if self._tty:
            self._stream.write("\n")
