"""structlog set-up: JSON in production, readable in a terminal; caller numbers masked."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET = re.compile(
    r"""((?:secret|password|token|key)['"]?\s*[:=]\s*['"]?)[^\s'",}\\]+""", re.IGNORECASE
)
# 7+ digits, also written with spaces or dashes (138 1234 5678, 0791-88881234)
_PHONE = re.compile(r"(?<![\d])\+?\d(?:[ \-]?\d){6,}(?![\d])")
# Number-like text that is nobody's phone: ISO dates and times (2026-12-03T19:46:08.5),
# ticket ids (MMDD-NNNNNNN, offline MMDD-9NNNNNNN). Kept as they are.
_NOT_A_PHONE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|(?<!\d)(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])-(?:9\d{7}|\d{7})(?!\d)"
)
_PHONE_OR_NOT = re.compile(f"(?P<keep>{_NOT_A_PHONE.pattern})|(?P<phone>{_PHONE.pattern})")
# spoken digits in a transcript (幺三八一二三四五六七八)
_SPOKEN_DIGITS = re.compile(r"[零〇一二三四五六七八九幺两]{7,}")
# Event keys whose values are caller numbers; masked even when short (compared lower-case).
_NUMBER_KEYS = frozenset(
    {
        "caller",
        "caller_id",
        "callerid",
        "number",
        "phone",
        "callerid_num",
        "calleridnum",
        "connectedlinenum",
    }
)
# Keys that carry what a caller said: logs keep no words (they do not expire; the call's
# timeline in Redis does), only their length.
WORD_KEYS = frozenset(
    {"text", "transcript", "heard", "reply", "words", "partial", "final", "evidence", "triage"}
)


def mask_number(number: str | None) -> str:
    """138****5678 style: keep the first 3 and last 4 digits of anything number-like."""
    if not number:
        return ""
    digits = str(number)
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) <= 7:
        return digits[:1] + "*" * (len(digits) - 3) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_numbers_in_text(text: str) -> str:
    """Mask every run of 10+ digits inside free text (transcripts, AMI dumps), and any
    AMI ``Secret:`` header (panoramisk logs whole actions when a send fails)."""
    text = _SECRET.sub(r"\1***", text)
    text = _SPOKEN_DIGITS.sub(lambda m: "*" * len(m.group(0)), text)
    return _PHONE_OR_NOT.sub(_mask_phone, text)


def _mask_phone(match: re.Match[str]) -> str:
    if match.group("keep"):
        return match.group(0)
    return mask_number(re.sub(r"\D", "", match.group(0)))


# Identifiers that look like numbers but are not anyone's phone (ticket 1129-0000001).
_ID_KEYS = frozenset(
    {
        "ticket",
        "ticket_id",
        "call_id",
        "uniqueid",
        "linkedid",
        "id",
        "published",
        "saved_as",
        "ami_port",
        "port",
    }
)


def _masked(key: str, value: Any) -> Any:
    lowered = key.lower()
    if lowered in _ID_KEYS:
        return value
    if lowered in _NUMBER_KEYS and isinstance(value, str | int):
        return mask_number(str(value))
    if lowered in WORD_KEYS and isinstance(value, str) and value:
        return f"<{len(value)} chars>"
    if isinstance(value, str):
        return mask_numbers_in_text(value)
    if isinstance(value, dict):
        return {k: _masked(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(key, v) for v in value]
    return value


def _mask_processor(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key == "event":
            if isinstance(value, str):
                event[key] = mask_numbers_in_text(value)
        else:
            event[key] = _masked(key, value)
    return event


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(file=sys.stderr)


def configure_logging(*, json: bool | None = None, level: str = "info") -> None:
    """JSON when not on a terminal (or when asked), coloured key=value otherwise."""
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            _mask_processor,
            # after the masker: a timestamp is not a phone number
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        # sys.stderr looked up per logger, not once: it may be replaced after set-up
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str, **bound: Any) -> structlog.stdlib.BoundLogger:
    # Lazy: a module-level logger still follows a later configure_logging().
    return structlog.get_logger(name, **bound)  # type: ignore[no-any-return,unused-ignore]
