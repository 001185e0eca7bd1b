"""Placeholder."""

from __future__ import annotations

from aiohttp import web

from hub.api.http import api_root


def setup_rest(app: web.Application) -> None:
    """Add routes."""
    app.router.add_get("/api/", api_root)
