"""Placeholder."""

from __future__ import annotations

from aiohttp import web


def setup_devices_v1(app: web.Application) -> None:
    """Add routes."""
