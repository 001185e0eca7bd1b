"""Registry writes: one transaction each, or grouped into one while a task holds a batch open.

A storm of discovered entities (5,000 retained MQTT configs at start) would otherwise cost one
transaction, one fsync, per entity and device. The task that creates them opens `batch()`;
its writes are queued in order and committed together when the batch closes. Memory changes
at once (the registries index the new entries as they queue them); another task's write
commits the queued writes first, so the database sees every write in the order it was made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.ddl import sort_tables

from hub.registry.util import RegistryError

_LOGGER = logging.getLogger(__name__)

# (statement, parameters or None, the registry's name for error messages)
Write = tuple[Any, dict[str, Any] | None, str]


class RegistryWriter:
    """Execute registry writes in call order, grouping the writes of an open batch."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._lock = asyncio.Lock()
        self._pending: list[Write] = []
        self._batching: ContextVar[bool] = ContextVar(f"registry_batch_{id(self)}", default=False)

    @property
    def pending(self) -> int:
        """How many writes are queued in an open batch."""
        return len(self._pending)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Queue this task's registry writes and commit them in one transaction at the end.

        A write the database refuses is logged with its registry and reason (the caller has
        moved on); the other writes of the batch are kept.
        """
        if self._batching.get():
            yield  # nested: the outer batch commits
            return
        token = self._batching.set(True)
        try:
            yield
        finally:
            self._batching.reset(token)
            await self.flush()

    async def write(self, statement: Any, params: dict[str, Any] | None, registry: str) -> None:
        """Execute one write, or queue it when this task holds a batch open.

        Raises:
            RegistryError: the database refused the write (not raised for a queued write).
        """
        if self._batching.get():
            self._pending.append((statement, params, registry))
            return
        async with self._lock:
            await self._flush_locked()
            await _execute(self._session_factory, [(statement, params, registry)])

    async def flush(self) -> None:
        """Commit every queued write now."""
        async with self._lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        if not self._pending:
            return
        writes, self._pending = self._pending, []
        try:
            await _execute(self._session_factory, writes)
        except RegistryError:
            # One refused write must not lose the others: write them one by one.
            for one in writes:
                try:
                    await _execute(self._session_factory, [one])
                except RegistryError as err:
                    _LOGGER.error("%s", err)


async def _execute(session_factory: async_sessionmaker[AsyncSession], writes: list[Write]) -> None:
    """Execute writes in one transaction; inserts go as one executemany per table (see _steps)."""
    try:
        async with session_factory() as session, session.begin():
            for statement, rows in _steps(writes):
                await session.execute(statement, rows)
    except (IntegrityError, DataError) as err:
        registry = writes[0][2] if len(writes) == 1 else "A"
        message = f"{registry} registry write refused by the database: {err.orig}"
        raise RegistryError(message) from err


def _steps(writes: list[Write]) -> list[tuple[Any, list[dict[str, Any]] | None]]:
    """The statements to execute for `writes`, in an order with the same outcome.

    A run of inserts with parameters (a discovered device, then its ten entities, then the
    next device...) becomes one executemany per table, the tables that others refer to first
    (devices before entities): new rows of different tables commute but for their foreign
    keys. Within a table the rows keep their order; any other write ends the run, so updates
    and deletes happen exactly where they were made.
    """
    steps: list[tuple[Any, list[dict[str, Any]] | None]] = []
    run: dict[Any, list[dict[str, Any]]] = {}

    def end_run() -> None:
        if len(run) > 1:
            order = {table: index for index, table in enumerate(sort_tables([statement.table for statement in run]))}
            steps.extend(sorted(run.items(), key=lambda item: order[item[0].table]))
        else:
            steps.extend(run.items())
        run.clear()

    for statement, params, _ in writes:
        if params is not None and getattr(statement, "is_insert", False):
            run.setdefault(statement, []).append(params)
            continue
        end_run()
        steps.append((statement, None if params is None else [params]))
    end_run()
    return steps

__all__ = ["RegistryWriter"]
