"""The operators' web app (aiohttp)."""

from gateway.web.app import create_app

__all__ = ["create_app"]
