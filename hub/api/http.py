"""The hub's web application: auth middleware, the API root, and the frontend or a hint to build it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.auth.access import looks_like_jwt
from hub.auth.store import TOKEN_LONG_LIVED

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")
# The user a request's Bearer token belongs to (None on public paths).
USER_KEY: web.RequestKey[Any] = web.RequestKey("hub_user", object)
FRONTEND_DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"
# Paths anyone may reach: the frontend, the login endpoints, webhooks and telemetry authenticate themselves.
PUBLIC_PREFIXES = ("/auth/", "/api/v1/auth/", "/api/webhook/", "/healthz", "/readyz",
                   "/api/v1/telemetry")  # devices send their own API key (integrations/http_ingest)
# Sockets that take their token in a first message, since browsers cannot set headers on them.
SELF_AUTHENTICATED = frozenset({"/api/websocket", "/api/v1/realtime"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_message(message: str, status: int = 200) -> web.Response:
    """Return Home Assistant's `{"message": ...}` JSON response."""
    return web.json_response({"message": message}, status=status)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve `Authorization: Bearer <token>` into request["hub_user"]; refuse /api/ without it."""
    request[USER_KEY] = None
    path = request.path
    if not path.startswith("/api/") or path.startswith(PUBLIC_PREFIXES) or path in SELF_AUTHENTICATED:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    hub = request.app[HUB_KEY]
    if scheme.lower() != "bearer" or not token or hub.auth is None:
        return json_message("401: Unauthorized", 401)
    found = await resolve_token(hub, token.strip())
    if found is None:
        return json_message("401: Unauthorized", 401)
    request[USER_KEY] = found[0]
    return await handler(request)


async def resolve_token(hub: Hub, token: str) -> tuple[Any, Any] | None:
    """Return (user, token info or None) for a JWT access token or a long-lived token."""
    auth = hub.auth
    if looks_like_jwt(token):
        claims = await auth.access.verify(token)
        if claims is None:
            return None
        user = await auth.get_user(claims.user_id)
        return (user, None) if user is not None and user.is_active else None
    found = await auth.validate_token(token)
    # A refresh token only buys access tokens; it is no bearer credential itself.
    if found is None or found[1].kind != TOKEN_LONG_LIVED:
        return None
    return found  # type: ignore[no-any-return]


async def api_root(request: web.Request) -> web.Response:
    """Answer GET /api/ like Home Assistant."""
    return json_message("API running.")


async def frontend_missing(request: web.Request) -> web.Response:
    """Say how to build the web UI instead of serving a blank page."""
    body = (
        "<!doctype html><html><head><meta charset=utf-8><title>Hub</title></head><body>"
        "<h1>The hub is running</h1><p>The web UI is not built in this checkout. Build it with "
        "<code>scripts/build-frontend</code> (needs Node.js 20+), then reload this page. The API "
        "answers at <a href=/api/>/api/</a> and <code>/api/websocket</code>.</p></body></html>"
    )
    return web.Response(text=body, content_type="text/html")


def build_app(hub: Hub, **kwargs: Any) -> web.Application:
    """Return the web application with the core routes; integrations add theirs by hook."""
    app = web.Application(middlewares=[auth_middleware], client_max_size=1024 * 1024, **kwargs)
    app[HUB_KEY] = hub
    from hub.api.setup import setup_api  # noqa: PLC0415 - the API modules import this one

    setup_api(app)
    from hub.ops.routes import add_ops_routes  # noqa: PLC0415 - it imports the API modules

    # /metrics checks its own token: scrapers on loopback may need none.
    add_ops_routes(app)
    from hub.api.frontend_files import add_frontend_routes  # noqa: PLC0415

    add_frontend_routes(app, FRONTEND_DIST, frontend_missing)
    return app
