"""The hub's web application factory: every API surface, /metrics and the frontend on one aiohttp app."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api.auth_middleware import auth_middleware
from hub.api.frontend_files import add_frontend_routes, frontend_missing
from hub.api.keys import HUB_KEY
from hub.api.setup import setup_api
from hub.ops.routes import add_ops_routes

if TYPE_CHECKING:
    from hub.core.hub import Hub

FRONTEND_DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"


def build_app(hub: Hub, **kwargs: Any) -> web.Application:
    """Return the web application with the core routes; integrations add theirs by hook."""
    app = web.Application(middlewares=[auth_middleware], client_max_size=1024 * 1024, **kwargs)
    app[HUB_KEY] = hub
    setup_api(app)
    # /metrics checks its own token: scrapers on loopback may need none.
    add_ops_routes(app)
    add_frontend_routes(app, FRONTEND_DIST, frontend_missing)
    return app
