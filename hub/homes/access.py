"""Who may act in a home: the membership check every hub core of a multi-home process carries.

The host puts a `HomeAccess` in each home core's `runtime[HOME_ACCESS]`; resolving a token
(REST and WebSocket alike, hub.api.auth_middleware) asks it for the user's role in that home. A
single-home hub has no such slot, and a user's own role stands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hub.core.runtime import HubKey
from hub.core.scope import HomeScope


@dataclass(frozen=True, slots=True)
class HomeAccess:
    """The home a core serves and how to find a user's role in it (None: no role there)."""

    scope: HomeScope
    role_of: Callable[[str], Awaitable[str | None]]


HOME_ACCESS: HubKey[HomeAccess] = HubKey("homes.access")
