"""Tokens and roles of the web tests' API clients."""

from __future__ import annotations

TOKENS = {
    "nc12345": ("centre", "nanchang/12345"),
    "jjmed": ("centre", "*/mediation"),
    "li": ("calltaker", None),
    "wang": ("supervisor", None),
    "zhao": ("engineer", None),
}


def token(name: str) -> str:
    return f"tok-{name}-0123456789"


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(name)}"}
