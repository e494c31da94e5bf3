"""AMI wire format: CRLF header lines, a blank line ends a message.

One incremental parser serves the client (our panoramisk protocol) and the PBX double's
server. It works on bytes and decodes only whole lines, so a multi-byte UTF-8 character
split across two TCP reads is never lost (panoramisk 1.4 decodes each read on its own
with errors='ignore'). Malformed input is logged and skipped, never raised: a garbage
line, a message whose blank line is missing, an over-long line or message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.logs import get_logger

log = get_logger("gateway.ami.protocol")

BANNER_PREFIX = "Asterisk Call Manager/"
EOL = "\r\n"
# Keys that start a message; seeing one inside a message means its blank line was lost.
_START_KEYS = frozenset({"event", "response", "action"})

Pairs = list[tuple[str, str]]


def encode_message(pairs: Iterable[tuple[str, str]]) -> bytes:
    """Headers in the given order, CRLF after each, a blank line at the end."""
    return ("".join(f"{key}: {value}{EOL}" for key, value in pairs) + EOL).encode("utf-8")


def split_header(line: str) -> tuple[str, str] | None:
    """``Key: value`` → (key, value). Asterisk writes ``Key: `` for empty values."""
    key, sep, value = line.partition(":")
    if not sep or not key or key != key.strip() or " " in key:
        return None
    return key, value[1:] if value.startswith(" ") else value


@dataclass
class MessageParser:
    """Feed bytes, get complete messages as ordered (key, value) lists."""

    max_line_bytes: int = 16 * 1024
    max_headers: int = 512
    expect_banner: bool = False
    banner: str | None = None
    _buffer: bytearray = field(default_factory=bytearray)
    _current: Pairs = field(default_factory=list)
    _skipping_line: bool = False
    _poisoned: bool = False

    def feed(self, data: bytes) -> list[Pairs]:
        self._buffer += data
        messages: list[Pairs] = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                self._check_overlong()
                return messages
            raw = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            if self._skipping_line:  # the tail of an over-long line
                self._skipping_line = False
                continue
            done = self._line(raw.removesuffix(b"\r"))
            if done is not None:
                messages.append(done)

    def pending_bytes(self) -> int:
        """Bytes of an unfinished message (a truncated message when the peer closes)."""
        return len(self._buffer) + sum(len(k) + len(v) for k, v in self._current)

    def _check_overlong(self) -> None:
        if len(self._buffer) > self.max_line_bytes:
            log.error("ami.line_too_long", bytes=len(self._buffer), limit=self.max_line_bytes)
            self._buffer.clear()
            self._skipping_line = True
            self._poisoned = True

    def _line(self, raw: bytes) -> Pairs | None:
        if len(raw) > self.max_line_bytes:
            log.error("ami.line_too_long", bytes=len(raw), limit=self.max_line_bytes)
            self._poisoned = True
            return None
        line = raw.decode("utf-8", errors="replace")
        if self.expect_banner and self.banner is None:
            self.banner = line
            if not line.startswith(BANNER_PREFIX):
                log.warning("ami.unexpected_banner", banner=line[:80])
            return None
        if line == "":
            return self._end_message()
        pair = split_header(line)
        if pair is None:
            log.warning("ami.malformed_line", line=line[:120])
            return None
        finished = None
        if self._starts_new_message(pair[0].lower()):
            log.warning("ami.missing_blank_line", before=pair[0], headers=len(self._current))
            finished = self._end_message()
        if len(self._current) >= self.max_headers:
            if not self._poisoned:
                log.error("ami.too_many_headers", limit=self.max_headers)
            self._poisoned = True
            return finished
        self._current.append(pair)
        return finished

    def _starts_new_message(self, key: str) -> bool:
        # OriginateResponse carries both Event and Response: only a repeat of the
        # opening key (or an Event inside a Response) means a blank line went missing.
        if not self._current or key not in _START_KEYS:
            return False
        opening = self._current[0][0].lower()
        return key == opening or (opening == "response" and key == "event")

    def _end_message(self) -> Pairs | None:
        message, self._current = self._current, []
        if self._poisoned:
            self._poisoned = False
            log.error("ami.message_dropped", reason="over a size limit", headers=len(message))
            return None
        return message or None


def first(pairs: Pairs, key: str, default: str = "") -> str:
    """Value of the first header named ``key`` (case-insensitive)."""
    wanted = key.lower()
    for k, v in pairs:
        if k.lower() == wanted:
            return v
    return default


def all_values(pairs: Pairs, key: str) -> list[str]:
    wanted = key.lower()
    return [v for k, v in pairs if k.lower() == wanted]
