"""The audit log: who did what to which target, when, and with what result.

`record()` never waits for the database: rows are queued and written in batches by one
task, so a service call's answer does not wait for its audit row. `entries()` writes what
is queued first, so a reader always sees every earlier action.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.core.clock import Clock
from hub.storage.models import NAME_LENGTH, table_of
from hub.storage.models_api import ADDRESS_LENGTH, TARGET_LENGTH, AuditRow
from hub.util import new_ulid

_LOGGER = logging.getLogger(__name__)
AUDIT = table_of(AuditRow)
MAX_QUEUED = 10_000  # beyond this (database down for long) the oldest rows are dropped, logged


def describe_target(data: Any, target: Any) -> str:
    """Return what a call aims at (entity/device/area ids, an MQTT topic), for the audit log."""
    parts = []
    for source in (target, data):
        if isinstance(source, dict):
            for key in ("entity_id", "device_id", "area_id", "topic"):
                if key in source:
                    value = source[key]
                    parts.append(f"{key}={','.join(map(str, value)) if isinstance(value, list) else value}")
    return " ".join(parts)[:500]


# Services of these domains control devices: automations' and schedules' calls to them are audited.
CONTROL_DOMAINS = frozenset({
    "switch", "light", "fan", "cover", "climate", "lock", "valve", "relay", "number", "select", "button",
    "siren", "media_player", "vacuum", "water_heater", "humidifier", "scene", "homeassistant", "mqtt",
})


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row."""

    id: str
    created_at: datetime
    user_id: str | None
    user_name: str | None
    action: str
    target: str | None
    result: str
    remote: str | None
    reason: str | None = None
    context_id: str | None = None
    parent_context_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the entry as JSON-able data (ISO time)."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


class AuditLog:
    """Queue audit rows and write them in batches."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
    ) -> None:
        self._session_factory = session_factory
        self.clock = clock
        self._queue: list[dict[str, Any]] = []
        self._writer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def record(
        self, user: Any, action: str, target: str | None, result: str, remote: str | None = None,
        *, user_name: str | None = None, reason: str | None = None, context: Any = None,
    ) -> None:
        """Queue a row.

        Args:
            user: the User who acted, or None (then `user_name` says who or what: the name tried
                at a login, an automation, a schedule, a device key).
            action: what was done (`call_service`, `login`, `mqtt.publish` ...).
            target: what it was done to (entity ids, a topic).
            result: `ok`, `refused`, or an error code.
            remote: the client's address.
            reason: why it was refused or failed.
            context: the Context the action ran in; its parent is what triggered it.
        """
        if len(self._queue) >= MAX_QUEUED:
            _LOGGER.warning("Audit log queue full; dropping its oldest row")
            del self._queue[0]
        self._queue.append(
            {
                "id": new_ulid(),
                "created_at": self.clock.utcnow(),
                "user_id": getattr(user, "id", None),
                "user_name": (getattr(user, "name", None) or user_name or "")[:NAME_LENGTH] or None,
                "action": action[:64],
                "target": target[:TARGET_LENGTH] if target else None,
                "result": result[:64],
                "remote": remote[:ADDRESS_LENGTH] if remote else None,
                "reason": reason[:TARGET_LENGTH] if reason else None,
                "context_id": getattr(context, "id", None),
                "parent_context_id": getattr(context, "parent_id", None),
            }
        )
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self.flush(), name="audit log writer")

    async def flush(self) -> None:
        """Write every queued row."""
        async with self._lock:
            while self._queue:
                rows, self._queue = self._queue, []
                try:
                    async with self._session_factory() as session, session.begin():
                        await session.execute(insert(AUDIT), rows)
                except OperationalError as err:  # the database busy or away: a line, not a traceback
                    _LOGGER.warning("Writing %d audit rows failed; will retry with the next row: %s",
                                    len(rows), str(err.orig or err).splitlines()[0])
                    self._queue[:0] = rows
                    return
                except Exception:  # noqa: BLE001 - keep the rows for the next try
                    _LOGGER.exception("Writing %d audit rows failed; will retry", len(rows))
                    self._queue[:0] = rows
                    return

    async def entries(
        self, limit: int = 100, user_id: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """Return the newest rows first, optionally of one user or one action."""
        await self.flush()
        query = select(*(AUDIT.c[name] for name in AuditEntry.__slots__))
        if user_id is not None:
            query = query.where(AUDIT.c.user_id == user_id)
        if action is not None:
            query = query.where(AUDIT.c.action == action)
        query = query.order_by(AUDIT.c.created_at.desc(), AUDIT.c.id.desc()).limit(limit)
        async with self._session_factory() as session:
            rows = (await session.execute(query)).all()
        return [AuditEntry(*row) for row in rows]
