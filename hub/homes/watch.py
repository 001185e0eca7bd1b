"""Homes added, changed and removed while the process runs: the host follows the tenancy store.

`hub home add|remove` (and `hub tenant suspend|resume|remove`) commit their change with a
`NOTIFY hub_homes` (hub.tenancy.store.announce); `hub apikey create --home` announces
`apikeys:<home id>`, on which the home claims its keys again (hub.homes.owners), so that they
route at once; every home claims its keys again whenever the LISTEN connection is made (a key
made while nobody listened would otherwise route nowhere until a restart). The watch LISTENs
on that channel with one connection of the application role (LISTEN needs no privilege) and, a moment after a
notification (a burst of them is one re-read), reads the homes to serve again as the tables'
owner, as the start did, and hands them to `HomeHost.reconcile`: new homes start, removed or
suspended ones stop, changed ones restart, the others are not touched.

A notification can be missed (the LISTEN connection lost, PostgreSQL restarted): the homes are
also re-read every REREAD_EVERY seconds, the safety net, and whenever the LISTEN connection is
made again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import asyncpg

from hub.tenancy.store import HOMES_CHANNEL, KEYS_PAYLOAD

if TYPE_CHECKING:
    from hub.homes.record import HomeRecord

_LOGGER = logging.getLogger(__name__)
REREAD_EVERY = 60.0  # seconds between re-reads without a notification
SETTLE = 0.2  # seconds a re-read waits after a notification, so that a burst is read once
RECONNECT_EVERY = 5.0  # seconds between attempts to LISTEN again

Reread = Callable[[], Awaitable[list["HomeRecord"]]]
Reconcile = Callable[[list["HomeRecord"]], Awaitable[None]]


class DirectoryWatch:
    """Re-read the homes on a notification, on reconnecting and every `every` seconds; reconcile."""

    def __init__(self, listen_dsn: str, reread: Reread, reconcile: Reconcile, *, every: float | None = None,
                 keys_changed: Callable[[str | None], Awaitable[None]] | None = None) -> None:
        self._dsn = listen_dsn
        self._keys_changed = keys_changed
        self._tasks: set[asyncio.Task[None]] = set()
        self._reread = reread
        self._reconcile = reconcile
        self._every = REREAD_EVERY if every is None else every
        self._changed = asyncio.Event()
        self._connection: Any = None
        self._next_connect = 0.0
        self._failing = False
        self._listen_failing = False
        self.rereads = 0  # how many re-reads ran (for tests and the log)

    async def run(self) -> None:
        """Follow the store until cancelled."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                if (self._connection is None or self._connection.is_closed()) and loop.time() >= self._next_connect:
                    if await self._listen():
                        self._changed.set()  # what changed while nobody listened
                        self._keys_missed()
                    else:
                        self._next_connect = loop.time() + RECONNECT_EVERY
                listening = self._connection is not None and not self._connection.is_closed()
                timeout = self._every if listening else min(self._every, RECONNECT_EVERY)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
                if self._changed.is_set():
                    await asyncio.sleep(SETTLE)
                self._changed.clear()  # a notification from here on asks for one more re-read
                await self._apply()
        finally:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._connection.close(), 2.0)
                self._connection = None

    async def _listen(self) -> bool:
        try:
            self._connection = await asyncpg.connect(self._dsn, timeout=10)
            await self._connection.add_listener(HOMES_CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as err:
            if self._connection is not None:
                self._connection.terminate()
            self._connection = None
            if not self._listen_failing:
                _LOGGER.warning("Homes: cannot listen for added or removed homes (%s); re-reading them every "
                                "%.0f s until it can", err, min(self._every, RECONNECT_EVERY))
            self._listen_failing = True
            return False
        self._connection.add_termination_listener(lambda _connection: self._changed.set())
        self._listen_failing = False
        return True

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith(KEYS_PAYLOAD):  # a home's device keys, not the homes, changed
            self._keys_missed(payload[len(KEYS_PAYLOAD):])
            return
        self._changed.set()

    def _keys_missed(self, home_id: str | None = None) -> None:
        """Have a home (every home: None) claim its device keys again, in the background."""
        if self._keys_changed is not None:
            task = asyncio.get_running_loop().create_task(self._reclaim(home_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _reclaim(self, home_id: str | None) -> None:
        assert self._keys_changed is not None
        try:
            await self._keys_changed(home_id)
        except Exception as err:  # noqa: BLE001 - the key routes by naming its home, and from the next start
            _LOGGER.warning("Homes: %s could not read device keys again: %s",
                            "the homes" if home_id is None else f"home {home_id}", err)

    async def _apply(self) -> None:
        self.rereads += 1
        try:
            records = await self._reread()
            await self._reconcile(records)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the database away a moment: the next re-read tries again
            if not self._failing:
                _LOGGER.warning("Homes: could not re-read the homes to serve: %s", err)
            self._failing = True
            return
        self._failing = False


__all__ = ["REREAD_EVERY", "DirectoryWatch"]
