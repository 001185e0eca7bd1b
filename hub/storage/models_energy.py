"""Tables of notifications and energy: persistent notifications and the energy integration's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.models import NAME_LENGTH, Base, json_type


class PersistentNotificationRow(Base):
    """A notification shown in the web UI until someone dismisses it."""

    __tablename__ = "persistent_notifications"

    notification_id: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class EnergyStateRow(Base):
    """What the energy integration must keep across restarts, by key.

    Keys name their owner (`meter:<entity_id>`, `utility:<name>`, `budget:<name>`); the value
    holds its accumulated totals, the last reading seen and the current period's start.
    """

    __tablename__ = "energy_state"

    key: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(json_type())
    updated_at: Mapped[datetime]


__all__ = ["EnergyStateRow", "PersistentNotificationRow"]
