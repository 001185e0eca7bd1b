"""Typed keys the API's views read: the hub an app serves and the user a request acts for.

A leaf module: every view and integration route imports it, and it imports nothing of hub.api.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from hub.core.hub import Hub

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")
# The user a request's Bearer token belongs to (None on public paths).
USER_KEY: web.RequestKey[Any] = web.RequestKey("hub_user", object)
