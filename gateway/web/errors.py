"""JSON error answers with a precise status and reason."""

from __future__ import annotations

from typing import Any

from aiohttp import web


def error(status: int, code: str, detail: str, **extra: Any) -> web.HTTPException:
    """An aiohttp HTTP exception carrying ``{"error": code, "detail": detail}``."""
    cls = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        413: web.HTTPRequestEntityTooLarge,
        415: web.HTTPUnsupportedMediaType,
        422: web.HTTPUnprocessableEntity,
        503: web.HTTPServiceUnavailable,
    }[status]
    body = web.json_response({"error": code, "detail": detail, **extra}).text
    if cls is web.HTTPRequestEntityTooLarge:
        return web.HTTPRequestEntityTooLarge(
            max_size=extra.get("max", 0),
            actual_size=extra.get("actual", 0),
            text=body,
            content_type="application/json",
        )
    return cls(text=body, content_type="application/json")
