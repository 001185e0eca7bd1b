"""The hub's web application factory: every API surface, /metrics and the frontend on one aiohttp app."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api.auth_middleware import auth_middleware
from hub.api.bans import ban_middleware
from hub.api.forwarded import forwarded_middleware
from hub.api.frontend_files import add_frontend_routes, frontend_missing
from hub.api.headers import add_security_headers
from hub.api.keys import HUB_KEY
from hub.api.malformed import malformed_request_middleware
from hub.api.setup import setup_api
from hub.ops.routes import add_ops_routes

if TYPE_CHECKING:
    from hub.core.hub import Hub

FRONTEND_DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"


def build_app(hub: Hub, **kwargs: Any) -> web.Application:
    """Return the web application with the core routes; integrations add theirs by hook.

    The `http:` section of the hub's configuration says which proxies to believe and whether
    other sites may frame the UI.
    """
    http = hub.config.raw.get("http") or {}
    proxies = list(http.get("trusted_proxies") or [])
    forwarded = forwarded_middleware(proxies, bool(http.get("use_x_forwarded_for", bool(proxies))))
    # Outermost first: the client's address is known before the ban and the token are checked.
    middlewares = [malformed_request_middleware(), forwarded, ban_middleware, auth_middleware]
    app = web.Application(middlewares=middlewares, client_max_size=1024 * 1024, **kwargs)
    app[HUB_KEY] = hub
    add_security_headers(app, frame_options=http.get("use_x_frame_options", True))
    setup_api(app)
    # /metrics checks its own token: scrapers on loopback may need none.
    add_ops_routes(app)
    add_frontend_routes(app, FRONTEND_DIST, frontend_missing)
    return app
