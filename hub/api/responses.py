"""Responses shaped as Home Assistant's REST API answers them."""

from __future__ import annotations

from aiohttp import web


def json_message(message: str, status: int = 200) -> web.Response:
    """Return Home Assistant's `{"message": ...}` JSON response."""
    return web.json_response({"message": message}, status=status)
