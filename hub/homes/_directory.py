"""Stand-in for the tenancy store until the homes and members tables exist: homes from `homes:`.

The host reads homes and memberships only through `homes()` and `homes_of(user_id)`, the
methods of hub/tenancy/store.py's `TenancyStore`; at merge the host builds that store instead
of this one (hub/homes/host.py, `_directory`), and this file goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.core.scope import HomeScope
from hub.homes.record import HomeRecord

if TYPE_CHECKING:
    from hub.auth.store import AuthStore


class ConfigDirectory:
    """Homes and each member's role, as listed in the validated `homes:` section."""

    def __init__(self, homes: list[dict[str, Any]], auth: AuthStore) -> None:
        self._records = [
            HomeRecord(HomeScope(h["tenant"], h["id"]), h["name"], h["topic_root"], h["time_zone"], h["currency"])
            for h in homes
        ]
        self._members = {h["id"]: dict(h["members"]) for h in homes}
        self._auth = auth

    def homes(self) -> list[HomeRecord]:
        """Every home this process serves, in the order listed."""
        return list(self._records)

    async def homes_of(self, user_id: str) -> list[tuple[HomeScope, str]]:
        """The homes the user has a role in, with that role, in the order listed."""
        user = self._auth.cached_user(user_id) or await self._auth.get_user(user_id)
        if user is None:
            return []
        found = []
        for record in self._records:
            role = self._members[record.home_id].get(user.name)
            if role is not None:
                found.append((record.scope, role))
        return found
