"""Revoked sessions and tokens, in memory, so that checking one costs no database query.

A session is a refresh-token family: logging out, revoking the family, or a refresh token
presented twice ends it, and with it every access token it issued, on the next request.
Revoking a long-lived token ends the WebSocket connections it opened. Each revocation is
written to `auth_revocations`; every hub process loads the recent ones at start and polls for
new ones (so the CLI and other processes count too), and listeners (open WebSocket
connections) hear of each at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.core.clock import Clock
from hub.storage.models import table_of
from hub.storage.models_api import RevocationRow

_LOGGER = logging.getLogger(__name__)
REVOCATIONS = table_of(RevocationRow)
KIND_SESSION = "session"
KIND_TOKEN = "token"
KEEP = timedelta(days=2)  # rows older than this matter to nobody (access tokens live minutes)

Listener = Callable[[str, str], None]  # (kind, id)


class Revocations:
    """The revoked session and token ids, and who wants to hear of new ones."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = session_factory
        self.clock = clock
        self._revoked: dict[str, datetime] = {}  # id -> when
        self._listeners: list[Listener] = []
        self._polled_to: datetime | None = None

    def is_revoked(self, any_id: str | None) -> bool:
        """Whether a session (family) or token id was revoked."""
        return any_id is not None and any_id in self._revoked

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call listener(kind, id) for every revocation from now on; return the undo."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def revoke(self, kind: str, any_id: str) -> None:
        """Record a revocation (in memory at once, then in the database) and tell the listeners."""
        now = self.clock.utcnow()
        self._remember(kind, any_id, now)
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(insert(REVOCATIONS).values(id=any_id, kind=kind, revoked_at=now))
        except IntegrityError:
            pass  # revoked before (a replayed logout)

    async def load(self) -> None:
        """Read the recent revocations (at start)."""
        since = self.clock.utcnow() - KEEP
        await self._read_since(since, announce=False)

    async def poll(self) -> int:
        """Read revocations made since the last poll (by this or another process); return how many are new."""
        since = self._polled_to or self.clock.utcnow() - KEEP
        return await self._read_since(since - timedelta(seconds=5), announce=True)

    async def prune(self) -> None:
        """Forget revocations older than KEEP, in memory and in the database."""
        cutoff = self.clock.utcnow() - KEEP
        self._revoked = {k: v for k, v in self._revoked.items() if v >= cutoff}
        async with self._sessions() as session, session.begin():
            await session.execute(delete(REVOCATIONS).where(REVOCATIONS.c.revoked_at < cutoff))

    async def _read_since(self, since: datetime, *, announce: bool) -> int:
        # The window overlaps the last poll a little: rows committed late by another process
        # carry an earlier time; ids already known are skipped.
        now = self.clock.utcnow()
        query = select(REVOCATIONS.c.id, REVOCATIONS.c.kind, REVOCATIONS.c.revoked_at).where(
            REVOCATIONS.c.revoked_at >= since
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        self._polled_to = now
        new = 0
        for any_id, kind, when in rows:
            if any_id in self._revoked:
                continue
            new += 1
            if announce:
                self._remember(kind, any_id, when)
            else:
                self._revoked[any_id] = when
        return new

    def _remember(self, kind: str, any_id: str, when: datetime) -> None:
        if any_id in self._revoked:
            return
        self._revoked[any_id] = when
        for listener in list(self._listeners):
            try:
                listener(kind, any_id)
            except Exception:  # noqa: BLE001 - one bad listener must not stop the others
                _LOGGER.exception("Revocation listener failed for %s %s", kind, any_id)
