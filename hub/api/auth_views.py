"""Placeholder."""

from __future__ import annotations

from aiohttp import web


def setup_auth_views(app: web.Application) -> None:
    """Add routes."""
