"""Every request acts in exactly one home: the front app that hands each one to its home's app.

The home is the one the request names (`X-Home-Id: <id>` or `?home_id=<id>`), else the first
home of the bearer token's user, else the first home listed (the UI's files, the login pages).
A socket whose token comes in its first message (/api/websocket, /api/v1/realtime) and that
names no home moves to the first home of that token's user before it answers. A webhook and a
device's key go to the home that owns them (hub.homes.owners). A named home the caller
has no role in answers 404 exactly like one that does not exist, so ids cannot be probed. The
home's app then runs as it would for a single home: its middlewares check the token again,
with the user's role in that home (hub.homes.access).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from hub.api.auth_middleware import SELF_AUTHENTICATED, resolve_user_token
from hub.api.keys import HOME_OF_TOKEN_KEY
from hub.homes.owners import unrouted

if TYPE_CHECKING:
    from hub.homes.host import Home, HomeHost

HOME_HEADER = "X-Home-Id"
HOME_QUERY = "home_id"
HOST_KEY: web.AppKey[HomeHost] = web.AppKey("homes")


def build_front_app(homes: HomeHost) -> web.Application:
    """Return the app the server runs: one route that dispatches every request to a home."""
    app = web.Application(client_max_size=1024 * 1024)
    app[HOST_KEY] = homes
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _names_home(request: web.Request) -> bool:
    return HOME_HEADER in request.headers or HOME_QUERY in request.query


async def pick_home(homes: HomeHost, request: web.Request) -> Home | None:
    """Return the request's home, None when it names one that it may not see."""
    named = request.headers.get(HOME_HEADER) or request.query.get(HOME_QUERY)
    token = _bearer(request)
    credential = await resolve_user_token(homes.auth, token) if token else None
    if named is not None:
        home = homes.get(named)
        if home is None:
            return None
        if credential is not None and await homes.role_of(credential.user.id, home.record.scope) is None:
            return None
        return home
    owner = homes.owners.owner_of(request)  # a webhook's or a device key's home (hub/homes/owners.py)
    if owner is not None:
        return homes.get(owner) if isinstance(owner, str) else None  # NOWHERE: no home
    if credential is not None:
        return await homes.first_home_of(credential.user.id) or homes.default
    return homes.default


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Serve the request with its home's app, or 404 when it names a home it may not see."""
    homes = request.app[HOST_KEY]
    home = await pick_home(homes, request)
    if home is None:
        return unrouted(request, named=_names_home(request))
    if request.path in SELF_AUTHENTICATED and not _names_home(request) and _bearer(request) is None:
        # The token comes in the socket's first message: the socket moves to its user's first home then.
        async def home_of(token: str) -> web.Application | None:
            credential = await resolve_user_token(homes.auth, token)
            found = await homes.first_home_of(credential.user.id) if credential is not None else None
            return found.app if found is not None else None

        request[HOME_OF_TOKEN_KEY] = home_of
    # The home's app routes, runs its middlewares and its handler: what AppRunner does for a
    # single home's app, which has no public method for it.
    return await home.app._handle(request)  # noqa: SLF001
