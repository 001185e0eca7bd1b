"""Which homes a user may act in: `homes/list` over the WebSocket and `GET /api/v1/homes`.

The web UI's home switcher reads it (before the socket opens, over REST: the socket must name
its home). Each entry is `{id, name, tenant, role, current}`: the user's role in that home and
whether it is the home this request acts in. Only the caller's own homes are listed, in the
directory's order; another tenant's homes and homes the user has no role in never appear.

A single-home hub answers its one home (`default`, named by `homeassistant: name:`) with the
user's own role, so a client can call it on any hub. On a hub of many homes the host puts a
lookup in each home core's `runtime[HOMES_OF]` (hub/homes/host.py, `homes_of_host`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.openapi import describe, errors, json_body, ref
from hub.api.websocket import COMMANDS_KEY
from hub.core.runtime import HubKey

if TYPE_CHECKING:
    from hub.auth.store import User
    from hub.core.hub import Hub
    from hub.homes.host import HomeHost
    from hub.homes.record import HomeRecord

PATH = "/api/v1/homes"
COMMAND = "homes/list"

HomesOf = Callable[[str], Awaitable[list[tuple["HomeRecord", str]]]]
"""A user id -> the homes this process serves that the user has a role in, with that role."""

HOMES_OF: HubKey[HomesOf] = HubKey("homes.listing")


def homes_of_host(host: HomeHost) -> HomesOf:
    """The lookup a home core of host answers with: the directory's homes of the user that run here."""

    async def homes_of(user_id: str) -> list[tuple[HomeRecord, str]]:
        found = []
        for scope, role in await host.auth.homes_of(user_id):
            home = host.get(scope.home_id)
            # A home of the directory that this process does not serve cannot be switched to here.
            if home is not None and home.record.scope == scope:
                found.append((home.record, role))
        return found

    return homes_of


async def list_homes(hub: Hub, user: User) -> list[dict[str, Any]]:
    """The homes user may act in, as `{id, name, tenant, role, current}`; this hub's home is current."""
    here = hub.config.scope
    lookup = hub.runtime.get(HOMES_OF)
    if lookup is None:
        return [{"id": here.home_id, "name": hub.config.name, "tenant": here.tenant_id, "role": user.role,
                 "current": True}]
    return [
        {"id": record.home_id, "name": record.name, "tenant": record.scope.tenant_id, "role": role,
         "current": record.scope == here}
        for record, role in await lookup(user.id)
    ]


async def _ws_list(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    connection.send_result(msg["id"], await list_homes(hub, connection.user))


async def _rest_list(request: web.Request) -> web.Response:
    return web.json_response(await list_homes(request.app[HUB_KEY], request[USER_KEY]))


HOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "tenant", "role", "current"],
    "properties": {
        "id": {"type": "string", "description": "The home's id: name it with `X-Home-Id` or `?home_id=`"},
        "name": {"type": "string", "description": "The home's name, for people"},
        "tenant": {"type": "string", "description": "The id of the tenant that owns the home"},
        "role": {"type": "string", "enum": ["owner", "admin", "user", "read-only"],
                 "description": "The caller's role in this home"},
        "current": {"type": "boolean", "description": "Whether this request acts in this home"},
    },
}

OPENAPI_PATHS = {PATH: {"get": {
    "operationId": "listHomes", "tags": ["homes"], "summary": "The homes the caller may act in",
    "description": ("Every home the caller has a role in, with that role, in the hub's order; `current` marks the "
                    "home the request acts in (the one named by `X-Home-Id` or `?home_id=`, else the caller's "
                    "first). A hub of one home answers that home. The WebSocket command `homes/list` answers "
                    "the same list."),
    "responses": {"200": json_body({"type": "array", "items": ref("Home")}, "The caller's homes"), **errors(401)},
}}}


def setup_home_listing(app: web.Application) -> None:
    """Add GET /api/v1/homes and the WebSocket command homes/list (after setup_websocket)."""
    app.router.add_get(PATH, _rest_list)
    app[COMMANDS_KEY].register(COMMAND, _ws_list, {})
    describe(app, OPENAPI_PATHS, schemas={"Home": HOME_SCHEMA})
