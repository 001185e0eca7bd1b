"""The relay_commands table, written behind the command path.

A command changes status three or four times within milliseconds; each change only marks the
command dirty. One writer task wakes, waits a moment so that those changes share a
transaction, and writes the latest snapshot of every dirty command (INSERT for new rows,
UPDATE by primary key for the others). A failed write keeps the commands dirty and retries;
the hub's stop writes whatever is left.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.storage.models import table_of
from integrations.relay.command import RelayCommand
from integrations.relay.models import RelayCommandRow

_LOGGER = logging.getLogger(__name__)
TABLE = table_of(RelayCommandRow)
BATCH_DELAY = 0.05  # seconds of changes that share one transaction
RETRY_DELAY = 2.0


class CommandStore:
    """Persist commands asynchronously; `flush()` writes everything pending now."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession] | None) -> None:
        self._sessions = session_factory
        self._dirty: dict[str, RelayCommand] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def start(self) -> None:
        """Start the writer task."""
        if self._sessions is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="relay command writer")

    async def stop(self) -> None:
        """Stop the writer and write what is still pending."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()

    def save(self, command: RelayCommand) -> None:
        """Mark a command for writing (never waits)."""
        if self._sessions is None:
            return
        self._dirty[command.id] = command
        self._wake.set()

    async def flush(self) -> None:
        """Write every pending command now."""
        if self._sessions is None:
            return
        async with self._lock:
            if not self._dirty:
                return
            batch, self._dirty = self._dirty, {}
            new = [c for c in batch.values() if not c.persisted]
            old = [c for c in batch.values() if c.persisted]
            try:
                async with self._sessions() as session, session.begin():
                    if new:
                        await session.execute(insert(TABLE), [c.row() for c in new])
                    if old:
                        await session.execute(update(RelayCommandRow), [c.row() for c in old])
            except Exception:
                for key, command in batch.items():
                    self._dirty.setdefault(key, command)
                raise
            for command in new:
                command.persisted = True
            self.written += len(batch)

    async def recent(self, entity_id: str | None = None, limit: int = 50, device_id: str | None = None) -> list[dict[str, Any]]:
        """Return the newest command rows first (of one entity, of one device, or of all)."""
        if self._sessions is None:
            return []
        await self.flush()
        query = select(TABLE)
        if entity_id is not None:
            query = query.where(TABLE.c.entity_id == entity_id)
        if device_id is not None:
            query = query.where(TABLE.c.device_id == device_id)
        query = query.order_by(TABLE.c.created_at.desc(), TABLE.c.id.desc()).limit(limit)
        async with self._sessions() as session:
            return [dict(row._mapping) for row in (await session.execute(query)).all()]

    async def get(self, command_id: str) -> dict[str, Any] | None:
        """Return one command's row (None when there is none)."""
        if self._sessions is None:
            return None
        await self.flush()
        async with self._sessions() as session:
            row = (await session.execute(select(TABLE).where(TABLE.c.id == command_id))).first()
        return None if row is None else dict(row._mapping)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(BATCH_DELAY)
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - the database may come back; keep the rows
                _LOGGER.exception("Writing relay commands failed; retrying in %.0f s", RETRY_DELAY)
                await asyncio.sleep(RETRY_DELAY)
                self._wake.set()
