"""Persistent notifications: kept in memory for reads, written through to the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from hub.storage.scoped import scope_of_sessions
from integrations.notify.persistent.models import PersistentNotificationRow

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
EVENT_UPDATED = "persistent_notifications_updated"
Listener = Callable[[str, dict[str, dict[str, Any]]], None]


@dataclass(slots=True)
class Notification:
    """One persistent notification in Home Assistant's shape."""

    notification_id: str
    title: str | None
    message: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """Return {notification_id, title, message, created_at} as the WebSocket API sends it."""
        return {
            "notification_id": self.notification_id,
            "title": self.title,
            "message": self.message,
            "created_at": self.created_at.isoformat(),
        }


class NotificationStore:
    """Create, list and dismiss notifications; tell subscribers what changed.

    Listeners get (kind, {notification_id: notification}) with kind "added", "updated" or
    "removed", the shape of Home Assistant's persistent_notification/subscribe events.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._items: dict[str, Notification] = {}
        # Creates and dismisses reach the database one at a time, in the order they were made:
        # overlapping ones (a notification raised and dismissed in quick turns) would otherwise
        # interleave a merge's SELECT and UPDATE with a DELETE, and fail.
        self._writes = asyncio.Lock()
        self._listeners: list[Listener] = []

    async def load(self) -> None:
        """Read the notifications kept from earlier runs."""
        if self.hub.db is None:
            return
        async with self.hub.db() as session:
            rows = (await session.execute(select(PersistentNotificationRow))).scalars().all()
        for row in sorted(rows, key=lambda r: r.created_at):
            self._items[row.notification_id] = Notification(row.notification_id, row.title, row.message, row.created_at)

    def all(self) -> list[Notification]:
        """Return the notifications, oldest first."""
        return list(self._items.values())

    def get(self, notification_id: str) -> Notification | None:
        """Return one notification."""
        return self._items.get(notification_id)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call listener on every change; return the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def create(self, message: str, title: str | None, notification_id: str, created_at: datetime) -> Notification:
        """Add a notification, replacing one with the same id (as Home Assistant does)."""
        kind = "updated" if notification_id in self._items else "added"
        item = Notification(notification_id, title, message, created_at)
        self._items.pop(notification_id, None)
        self._items[notification_id] = item
        if self.hub.db is not None:
            async with self._writes, self.hub.db() as session, session.begin():
                await session.merge(PersistentNotificationRow(
                    home_id=scope_of_sessions(self.hub.db).home_id,  # part of the key: rows are per home
                    notification_id=notification_id, title=title, message=message, created_at=created_at,
                ))
        self._changed(kind, [item])
        return item

    async def dismiss(self, notification_ids: list[str]) -> list[str]:
        """Remove notifications; return the ids that existed."""
        gone = [self._items.pop(i) for i in notification_ids if i in self._items]
        if not gone:
            return []
        if self.hub.db is not None:
            async with self._writes, self.hub.db() as session, session.begin():
                await session.execute(
                    delete(PersistentNotificationRow).where(
                        PersistentNotificationRow.notification_id.in_([g.notification_id for g in gone])
                    )
                )
        self._changed("removed", gone)
        return [g.notification_id for g in gone]

    def _changed(self, kind: str, items: list[Notification]) -> None:
        payload = {item.notification_id: item.as_dict() for item in items}
        for listener in list(self._listeners):
            try:
                listener(kind, payload)
            except Exception:  # noqa: BLE001 - one broken subscriber must not stop the others
                _LOGGER.exception("Persistent notification listener failed")
        self.hub.bus.fire(EVENT_UPDATED, {"type": kind, "notification_ids": list(payload)})
