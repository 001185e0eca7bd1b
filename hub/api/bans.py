"""Refuse every request from an address banned by `http: login_attempts_threshold` (403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.api.keys import HUB_KEY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def ban_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer 403 to a banned address (checked in memory: no query per request)."""
    auth = request.app[HUB_KEY].auth
    if auth is not None and auth.throttle.banned and request.remote in auth.throttle.banned:
        return web.json_response({"message": "403: Forbidden (this address is banned after failed logins)"},
                                 status=403)
    return await handler(request)
