"""One asyncpg pool per PostgreSQL history URL in a process, shared by every home that uses it.

A process hosting many homes opens one pool per history URL, not one per home: the homes' backends
take a reference with `PoolRegistry.acquire(dsn)` and give it back with `release`; the pool closes
when the last home stops. The pool holds connections and what every home of the database shares
(the schema is migrated once, the partitions made so far); no home's rows nor settings. Each
transaction sets its own home (`app.tenant_id`, `app.home_id`), so connections go from one home
to another freely.

Pools are keyed by the URL and the event loop they were made on (a pool belongs to one loop).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any

import asyncpg

# Connections of a process's pool: enough for the homes' writes and reads to overlap, and the
# same whether a process has one home or a hundred (PostgreSQL's default max_connections is 100).
DEFAULT_POOL_SIZE = 10


@dataclass(eq=False, slots=True)
class SharedPool:
    """A pool and what the homes of its database share: the migrated schema, the partitions made."""

    dsn: str
    pool: asyncpg.Pool
    users: int = 0
    migrated: bool = False
    timescale: bool = False
    # (table, plan, slot) of the time partitions known to exist; the schema lock serialises changes.
    partitions: set[tuple[str, str, int]] = field(default_factory=set)
    schema_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class PoolRegistry:
    """The shared pools of a process, reference-counted by the homes that use them."""

    def __init__(self) -> None:
        self._pools: dict[tuple[str, asyncio.AbstractEventLoop], SharedPool] = {}
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    def _guard(self) -> asyncio.Lock:
        # One lock per loop: a lock belongs to the loop it waits on.
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def acquire(self, dsn: str, *, max_size: int = DEFAULT_POOL_SIZE, **options: Any) -> SharedPool:
        """Return the pool of a URL (made on first use, sized max_size) and count one more user.

        Raises:
            OSError, asyncpg.PostgresError: the first connection could not be made.
        """
        key = (dsn, asyncio.get_running_loop())
        async with self._guard():
            shared = self._pools.get(key)
            if shared is None:
                pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, **options)
                shared = self._pools[key] = SharedPool(dsn, pool)
            shared.users += 1
            return shared

    async def release(self, shared: SharedPool) -> None:
        """Count one user less; the last one closes the pool."""
        key = (shared.dsn, asyncio.get_running_loop())
        async with self._guard():
            shared.users -= 1
            if shared.users > 0:
                return
            if self._pools.get(key) is shared:
                del self._pools[key]
        await shared.pool.close()

    def open_pools(self) -> list[SharedPool]:
        """Return the pools open now (for status and tests)."""
        return list(self._pools.values())


# The process's registry: every PostgreSQL history backend shares pools through it unless given another.
POOLS = PoolRegistry()
