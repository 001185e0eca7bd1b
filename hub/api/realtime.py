"""Placeholder."""

from __future__ import annotations

from aiohttp import web


def setup_realtime(app: web.Application) -> None:
    """Add routes."""
