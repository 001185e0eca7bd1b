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

Homes come and go while requests are read (hub/homes/changes.py): only a home served now (in the
host's table, its core running: `HomeHost.served`) gets a request, checked again just before the
request becomes the home's (after that, the home's leaving ends it). A home that left while its
request was read is looked up once more; a named home that is starting answers 503, one that is
gone 404; a request that names no home while the hub serves none answers 503.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from hub import payload_json
from hub.api.auth_middleware import MAX_TOKEN_LENGTH, SELF_AUTHENTICATED, bearer_token
from hub.api.keys import HOME_OF_TOKEN_KEY
from hub.api.responses import json_message
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
RETRY_AFTER = "1"  # seconds: a home starts, or one is started again, within about that


def build_front_app(homes: HomeHost) -> web.Application:
    """Return the app the server runs: one route that dispatches every request to a home."""
    app = web.Application(client_max_size=1024 * 1024)
    app[HOST_KEY] = homes
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


def _names_home(request: web.Request) -> bool:
    return HOME_HEADER in request.headers or HOME_QUERY in request.query


def _named_home(request: web.Request) -> str | None:
    """The home id the request names (header, then query), None when it names none."""
    return request.headers.get(HOME_HEADER) or request.query.get(HOME_QUERY)


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
        return claims.user_id, homes.served(claims.home_id) if claims.home_id is not None else None
    found = await homes.auth.token_home(hash_token(token))
    if found is None:
        return None
    scope, user_id = found
    home = homes.served(scope.home_id)
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
    return homes.served(found[0].home_id) if found is not None else None


async def pick_home(homes: HomeHost, request: web.Request) -> Home | None:
    """Return the request's home, None when it names one that it may not see or the hub serves none.

    The home was served when it was picked; the awaits here let homes leave meanwhile, so the
    caller checks again (`_still_served`) before the request becomes the home's.
    """
    named = _named_home(request)
    token = bearer_token(request)
    found = await token_user(homes, token) if token else None
    if named is not None:
        home = homes.served(named)
        if home is None:
            return None
        if found is not None and await homes.role_of(found[0], home.record.scope) is None:
            return None
        return home
    owner = homes.owners.owner_of(request)  # a webhook's or a device key's home (hub/homes/owners.py)
    if owner is not None:
        return homes.served(owner) if isinstance(owner, str) else None  # NOWHERE: no home
    if found is not None:
        return await _home_of_user(homes, *found) or homes.first
    if token is not None:
        return homes.first
    login = await _login_user(homes, request)
    if login is not None:
        return await homes.first_home_of(login) or homes.first
    return await _refresh_home(homes, request) or homes.first


def _still_served(homes: HomeHost, home: Home | None) -> bool:
    return home is not None and homes.served(home.record.home_id) is home


async def _no_home(homes: HomeHost, request: web.Request) -> web.Response:
    """The answer to a request that reaches no home: 404 for a home it may not see; 503 while the
    home it names starts (to a caller with a role there: to others it does not exist) or while
    the hub serves no home at all."""
    named = _named_home(request)
    if named is not None:
        starting = homes.get(named)
        token = bearer_token(request)
        found = await token_user(homes, token) if starting is not None and token else None
        if starting is None or found is None or await homes.role_of(found[0], starting.record.scope) is None:
            return unrouted(request, named=True)
        response = json_message(f"503: home {named} is starting; try again in a moment", 503)
    elif homes.first is None and homes.owners.owner_of(request) is None:
        response = json_message("503: this hub serves no home at the moment: every home was removed, "
                                "is starting, or its tenant is suspended", 503)
    else:
        return unrouted(request, named=_names_home(request))
    response.headers["Retry-After"] = RETRY_AFTER
    return response


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Serve the request with its home's app; 404 when it names a home it may not see, 503 when
    its home is starting or the hub serves none (see the module doc)."""
    homes = request.app[HOST_KEY]
    home = await pick_home(homes, request)
    if home is not None and not _still_served(homes, home):
        home = await pick_home(homes, request)  # it left while the request was read: where it goes now
    if home is None or not _still_served(homes, home):
        return await _no_home(homes, request)
    # No await from the check above to here: from now on, the home's leaving ends this request
    # (hub/homes/changes.py, end_requests) before its core stops.
    task = asyncio.current_task()
    serving = [home]
    if request.path in SELF_AUTHENTICATED and not _names_home(request) and bearer_token(request) is None:
        # The token comes in the socket's first message: the socket moves to its token's home then.
        async def home_of(token: str) -> web.Application | None:
            found = await token_user(homes, token)
            moved = await _home_of_user(homes, *found) if found is not None else None
            if moved is None or not _still_served(homes, moved):
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
