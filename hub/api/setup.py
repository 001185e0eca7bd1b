"""Attach every API surface to the web application: REST, WebSocket, auth and device API."""

from __future__ import annotations

from aiohttp import web

from hub.api.auth_views import setup_auth_views
from hub.api.devices_v1 import setup_devices_v1
from hub.api.keys import HUB_KEY
from hub.api.onboarding import setup_onboarding
from hub.api.openapi import setup_openapi
from hub.api.realtime import setup_realtime
from hub.api.rest import setup_rest
from hub.api.websocket import setup_websocket
from hub.homes.listing import setup_home_listing


def setup_api(app: web.Application) -> None:
    """Add the API routes, and write pending audit rows when the app shuts down."""
    setup_rest(app)
    setup_websocket(app)
    setup_home_listing(app)
    setup_auth_views(app)
    setup_onboarding(app)
    setup_devices_v1(app)
    setup_realtime(app)
    setup_openapi(app)

    async def flush_audit(app: web.Application) -> None:
        audit = getattr(app[HUB_KEY].auth, "audit", None)
        if audit is not None:
            await audit.flush()

    app.on_cleanup.append(flush_audit)
