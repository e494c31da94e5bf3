"""structlog set-up: JSON in production, readable in a terminal; caller numbers masked."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET = re.compile(r"((?:Secret|secret|Key)\s*[:=]\s*)[^\s\\'\"]+")
_PHONE = re.compile(r"(?<!\d)(\+?\d{3})(\d{3,})(\d{4})(?!\d)")
# Event keys whose values are caller numbers; masked even when short.
_NUMBER_KEYS = frozenset({"caller", "caller_id", "callerid", "number", "phone", "callerid_num"})


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
    return _PHONE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


def _mask_processor(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key in _NUMBER_KEYS and isinstance(value, str | int):
            event[key] = mask_number(str(value))
        elif isinstance(value, str) and key != "event":
            event[key] = mask_numbers_in_text(value)
    if isinstance(event.get("event"), str):
        event["event"] = mask_numbers_in_text(event["event"])
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
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _mask_processor,
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
