"""Every request acts in exactly one home: the front app that hands each one to its home's app.

The home is the one the request names (`X-Home-Id: <id>` or `?home_id=<id>`); else the home of
its bearer token (a long-lived token acts in the home it was made in, found through
hub.tenancy.login's `token_scope`; an access token in the home named in it, where its login or
refresh was); else, for a password login (`POST /api/v1/auth/login`), the first home of the user
it names (found through `find_login`), and for a refresh (`/auth/token`, `/api/v1/auth/refresh`)
the home its refresh token was made in; a webhook and a device's key go to the home that owns them
(hub.homes.owners); else the first home served (the UI's files). A socket whose token
comes in its first message (/api/websocket, /api/v1/realtime) and that names no home moves to
its token's home the same way before it answers. A named home the caller has no role in answers
404 exactly like one that does not exist, so ids cannot be probed. The home's app then runs as
it would for a single home: its middlewares check the token again, in that home's auth store,
with the user's role in that home (hub.homes.access).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from hub import payload_json
from hub.api.auth_middleware import MAX_TOKEN_LENGTH, SELF_AUTHENTICATED, bearer_token
from hub.api.keys import HOME_OF_TOKEN_KEY
from hub.auth.access import looks_like_jwt
from hub.auth.store import hash_token
from hub.homes.owners import unrouted

if TYPE_CHECKING:
    from hub.homes.host import Home, HomeHost

HOME_HEADER = "X-Home-Id"
HOME_QUERY = "home_id"
LOGIN_PATH = "/api/v1/auth/login"
REFRESH_PATHS = frozenset({"/api/v1/auth/refresh", "/auth/token"})
MAX_LOGIN_BODY = 64 * 1024  # a user name and a password; a larger body is the login view's to refuse
HOST_KEY: web.AppKey[HomeHost] = web.AppKey("homes")


def build_front_app(homes: HomeHost) -> web.Application:
    """Return the app the server runs: one route that dispatches every request to a home."""
    app = web.Application(client_max_size=1024 * 1024)
    app[HOST_KEY] = homes
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


def _names_home(request: web.Request) -> bool:
    return HOME_HEADER in request.headers or HOME_QUERY in request.query


async def token_user(homes: HomeHost, token: str) -> tuple[str, Home | None] | None:
    """The user a token names and the home it acts in when none is named (None: the user's first).

    Only where the request goes: the home's middleware checks the token itself (expiry, revocation).
    """
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    if looks_like_jwt(token):
        claims = homes.auth.access.verify(token)
        if claims is None:
            return None
        return claims.user_id, homes.get(claims.home_id) if claims.home_id is not None else None
    found = await homes.auth.token_home(hash_token(token))
    if found is None:
        return None
    scope, user_id = found
    home = homes.get(scope.home_id)
    return user_id, home if home is not None and home.record.scope == scope else None


async def _home_of_user(homes: HomeHost, user_id: str, preferred: Home | None) -> Home | None:
    if preferred is not None and await homes.role_of(user_id, preferred.record.scope) is not None:
        return preferred
    return await homes.first_home_of(user_id)


async def _login_user(homes: HomeHost, request: web.Request) -> str | None:
    if request.method != "POST" or request.path != LOGIN_PATH or (request.content_length or 0) > MAX_LOGIN_BODY:
        return None
    try:
        # Bounded: a body nested thousands of levels deep must not recurse (hub/payload_json.py).
        body = payload_json.loads(await request.read())  # kept by aiohttp: the login view reads it again
    except (ValueError, web.HTTPException):
        return None
    name = body.get("username") if isinstance(body, dict) else None
    found = await homes.auth.find_login(name.strip()) if isinstance(name, str) and name.strip() else None
    return None if found is None else found.id


async def _refresh_home(homes: HomeHost, request: web.Request) -> Home | None:
    """The home a refresh request's token was made in: its successor and access token are made there."""
    if request.method != "POST" or request.path not in REFRESH_PATHS or (request.content_length or 0) > MAX_LOGIN_BODY:
        return None
    raw: object = None
    try:
        if request.path == "/auth/token":
            raw = (await request.post()).get("refresh_token")  # kept by aiohttp for the view
        else:
            body = payload_json.loads(await request.read())
            raw = body.get("refresh_token") if isinstance(body, dict) else None
    except (ValueError, AssertionError, UnicodeDecodeError, web.HTTPException):
        return None
    if not isinstance(raw, str) or not raw:
        return None
    found = await homes.auth.token_home(hash_token(raw))
    return homes.get(found[0].home_id) if found is not None else None


async def pick_home(homes: HomeHost, request: web.Request) -> Home | None:
    """Return the request's home, None when it names one that it may not see."""
    named = request.headers.get(HOME_HEADER) or request.query.get(HOME_QUERY)
    token = bearer_token(request)
    found = await token_user(homes, token) if token else None
    if named is not None:
        home = homes.get(named)
        if home is None:
            return None
        if found is not None and await homes.role_of(found[0], home.record.scope) is None:
            return None
        return home
    owner = homes.owners.owner_of(request)  # a webhook's or a device key's home (hub/homes/owners.py)
    if owner is not None:
        return homes.get(owner) if isinstance(owner, str) else None  # NOWHERE: no home
    if found is not None:
        return await _home_of_user(homes, *found) or homes.default
    if token is not None:
        return homes.default
    login = await _login_user(homes, request)
    if login is not None:
        return await homes.first_home_of(login) or homes.default
    return await _refresh_home(homes, request) or homes.default


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Serve the request with its home's app, or 404 when it names a home it may not see."""
    homes = request.app[HOST_KEY]
    home = await pick_home(homes, request) if homes.homes else None
    if home is None:
        return unrouted(request, named=_names_home(request))
    task = asyncio.current_task()
    serving = [home]
    if request.path in SELF_AUTHENTICATED and not _names_home(request) and bearer_token(request) is None:
        # The token comes in the socket's first message: the socket moves to its token's home then.
        async def home_of(token: str) -> web.Application | None:
            found = await token_user(homes, token)
            moved = await _home_of_user(homes, *found) if found is not None else None
            if moved is None:
                return None
            serving.append(moved)
            if task is not None:
                moved.requests.add(task)
            return moved.app

        request[HOME_OF_TOKEN_KEY] = home_of
    # The home's app routes, runs its middlewares and its handler: what AppRunner does for a
    # single home's app, which has no public method for it.
    # While it runs, the request is the home's: stopping the home ends it (hub/homes/changes.py).
    if task is not None:
        home.requests.add(task)
    try:
        return await home.app._handle(request)  # noqa: SLF001
    finally:
        for served in serving:
            served.requests.discard(task)
