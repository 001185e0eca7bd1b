"""Keep the energy integration's totals across restarts, in the hub's database when it has one."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hub.storage.models import utcnow
from hub.storage.scoped import scope_of_sessions
from integrations.energy.models import EnergyStateRow

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)


class EnergyStore:
    """A key -> JSON map, written in batches: readings arrive often, a restart is rare."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.values: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()

    async def load(self) -> dict[str, dict[str, Any]]:
        """Read every kept value."""
        if self.hub.db is not None:
            async with self.hub.db() as session:
                rows = (await session.execute(select(EnergyStateRow))).scalars().all()
            self.values = {row.key: dict(row.value) for row in rows}
        return self.values

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Remember a value; save() writes it."""
        self.values[key] = value
        self._dirty.add(key)

    async def save(self) -> None:
        """Write the values changed since the last save."""
        if not self._dirty or self.hub.db is None:
            self._dirty.clear()
            return
        keys, self._dirty = self._dirty, set()
        now = utcnow()
        home_id = scope_of_sessions(self.hub.db).home_id  # part of the key: rows are per home
        try:
            async with self.hub.db() as session, session.begin():
                for key in keys:
                    await session.merge(
                        EnergyStateRow(home_id=home_id, key=key, value=self.values[key], updated_at=now)
                    )
        except Exception:  # noqa: BLE001 - kept in memory and retried at the next save
            _LOGGER.exception("Saving energy totals failed; will retry")
            self._dirty |= keys
