"""Bearer tokens on HTTP requests: the middleware that guards /api/ and the token lookup sockets share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from aiohttp import web

from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.responses import json_message
from hub.auth.access import looks_like_jwt
from hub.auth.store import TOKEN_LONG_LIVED
from hub.homes.access import HOME_ACCESS

if TYPE_CHECKING:
    from hub.auth.store import AuthStore, TokenInfo, User
    from hub.core.hub import Hub

# Paths anyone may reach: the frontend, the login endpoints, webhooks and telemetry authenticate themselves.
PUBLIC_PREFIXES = ("/auth/", "/api/v1/auth/", "/api/webhook/", "/healthz", "/readyz",
                   "/api/onboarding",  # guarded by itself: loopback or the one-time code (hub/api/onboarding.py)
                   "/api/v1/telemetry")  # devices send their own API key (integrations/http_ingest)
MAX_TOKEN_LENGTH = 4096  # longer is no token of ours: refused before any work
# Sockets that take their token in a first message, since browsers cannot set headers on them.
SELF_AUTHENTICATED = frozenset({"/api/websocket", "/api/v1/realtime"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Credential:
    """Who a bearer token stands for, and what can revoke it.

    Attributes:
        user: the token's user.
        token: the long-lived token presented (None for a JWT access token).
        session_id: the login session (refresh-token family) of a JWT access token.
    """

    user: User
    token: TokenInfo | None = None
    session_id: str | None = None

    def ended_by(self, revoked_id: str) -> bool:
        """Whether revoking this id (a session or a token) ends this credential."""
        return revoked_id == self.session_id or (self.token is not None and revoked_id == self.token.id)


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, None without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def device_key(request: web.Request) -> str | None:
    """A device's key: its `X-API-Key` header, else its bearer token; None without either."""
    return request.headers.get("X-API-Key", "").strip() or bearer_token(request)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve `Authorization: Bearer <token>` into request[USER_KEY]; refuse /api/ without it."""
    request[USER_KEY] = None
    path = request.path
    if not path.startswith("/api/") or path.startswith(PUBLIC_PREFIXES) or path in SELF_AUTHENTICATED:
        return await handler(request)
    token = bearer_token(request)
    hub = request.app[HUB_KEY]
    if token is None or hub.auth is None:
        return json_message("401: Unauthorized", 401)
    found = await resolve_token(hub, token)
    if found is None:
        return json_message("401: Unauthorized", 401)
    request[USER_KEY] = found.user
    return await handler(request)


async def resolve_token(hub: Hub, token: str) -> Credential | None:
    """Return the credential of a JWT access token or a long-lived token, None if it is not valid.

    A JWT of a revoked session is refused from memory; a long-lived token is looked up in the
    database, so revoking it (from any process) counts on the next request.

    Raises:
        HubError: the hub has no auth store (callers check `hub.auth` first).
    """
    found = await resolve_user_token(hub.require_auth(), token)
    access = hub.runtime.get(HOME_ACCESS)
    if found is None or access is None:
        return found
    # One of many homes: the user acts here with their role in this home, or not at all.
    role = await access.role_of(found.user.id)
    return None if role is None else replace(found, user=replace(found.user, role=role))


async def resolve_user_token(auth: AuthStore, token: str) -> Credential | None:
    """Return the credential of a token as its user's own (no home's role applied), None if not valid."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    if looks_like_jwt(token):
        claims = auth.access.verify(token)
        if claims is None:
            return None
        user = await auth.get_user(claims.user_id)
        return Credential(user, None, claims.family_id) if user is not None and user.is_active else None
    found = await auth.validate_token(token)
    # A refresh token only buys access tokens; it is no bearer credential itself.
    if found is None or found[1].kind != TOKEN_LONG_LIVED:
        return None
    return Credential(found[0], found[1])
