"""Typed keys the API's views read: the hub an app serves and the user a request acts for.

A leaf module: every view and integration route imports it, and it imports nothing of hub.api.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from hub.core.hub import Hub

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")
# The user a request's Bearer token belongs to (None on public paths).
USER_KEY: web.RequestKey[Any] = web.RequestKey("hub_user", object)
# On a hub of many homes (hub/homes/dispatch.py), a socket that names no home: the app of the
# first home of the token its first message brings (None: the user has no home; stay).
HomeOfToken = Callable[[str], Awaitable["web.Application | None"]]
HOME_OF_TOKEN_KEY: web.RequestKey[HomeOfToken] = web.RequestKey("home_of_token")
