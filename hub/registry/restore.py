"""Last known states of entities, saved while running and restored at start."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.exceptions import InvalidStateError
from hub.storage.engine import upsert_statement
from hub.storage.models import STATE_LENGTH, RestoreStateRow, table_of

RESTORE_STATES = table_of(RestoreStateRow)

_COLUMNS = tuple(
    RESTORE_STATES.c[name]
    for name in ("entity_id", "state", "attributes", "last_changed", "last_updated")
)

# Rows per statement batch: bounds memory and statement size, one transaction for all.
_BATCH = 2000


@dataclass(frozen=True, slots=True)
class StoredState:
    """The last known state of one entity."""

    entity_id: str
    state: str
    attributes: dict[str, Any] = field(hash=False)
    last_changed: datetime
    last_updated: datetime


class StateRow(NamedTuple):
    """What `save_many` takes (a plain 5-tuple or a StoredState works as well)."""

    entity_id: str
    state: str
    attributes: Mapping[str, Any]
    last_changed: datetime
    last_updated: datetime


class RestoreStateStore:
    """Reads and upserts the `restore_states` table."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._lock = asyncio.Lock()

    async def load(self) -> dict[str, StoredState]:
        """Every stored state, by entity_id."""
        async with self._session_factory() as session:
            rows = (await session.execute(select(*_COLUMNS))).all()
        return {row[0]: StoredState(*row) for row in rows}

    async def save_many(
        self, states: Iterable[StoredState | StateRow | tuple[str, str, Mapping[str, Any], datetime, datetime]]
    ) -> int:
        """Insert or replace these states in one transaction; returns how many rows were written.

        Datetimes must be timezone-aware. A later item for the same entity_id wins.
        """
        rows: dict[str, dict[str, Any]] = {}
        attributes: Mapping[str, Any]
        for item in states:
            if isinstance(item, StoredState):
                entity_id, state, attributes, last_changed, last_updated = (
                    item.entity_id,
                    item.state,
                    item.attributes,
                    item.last_changed,
                    item.last_updated,
                )
            else:
                entity_id, state, attributes, last_changed, last_updated = item
            if not isinstance(state, str) or len(state) > STATE_LENGTH:
                raise InvalidStateError(
                    f"State of {entity_id} must be a string of at most {STATE_LENGTH} characters"
                )
            for moment in (last_changed, last_updated):
                if not isinstance(moment, datetime) or moment.utcoffset() is None:
                    raise ValueError(f"{entity_id}: last_changed/last_updated must be aware datetimes")
            rows[entity_id] = {
                "entity_id": entity_id,
                "state": state,
                "attributes": dict(attributes or {}),
                "last_changed": last_changed,
                "last_updated": last_updated,
            }
        if not rows:
            return 0
        values = list(rows.values())
        async with self._lock:
            async with self._session_factory() as session, session.begin():
                dialect = session.get_bind().dialect.name
                try:
                    statement: Any = upsert_statement(dialect, RESTORE_STATES, ["home_id", "entity_id"])
                except NotImplementedError:
                    statement = None
                for start in range(0, len(values), _BATCH):
                    batch = values[start : start + _BATCH]
                    if statement is None:
                        keys = [row["entity_id"] for row in batch]
                        await session.execute(
                            delete(RESTORE_STATES).where(RESTORE_STATES.c.entity_id.in_(keys))
                        )
                        await session.execute(insert(RESTORE_STATES), batch)
                    else:
                        await session.execute(statement, batch)
        return len(values)

    async def remove_many(self, entity_ids: Iterable[str]) -> None:
        """Forget the stored states of these entities."""
        keys = list(dict.fromkeys(entity_ids))
        if not keys:
            return
        async with self._lock:
            async with self._session_factory() as session, session.begin():
                for start in range(0, len(keys), _BATCH):
                    await session.execute(
                        delete(RESTORE_STATES).where(
                            RESTORE_STATES.c.entity_id.in_(keys[start : start + _BATCH])
                        )
                    )


__all__ = ["RestoreStateStore", "StateRow", "StoredState"]
