"""The relay integration's table: relay commands with their lifecycle.

Created and changed only by the revisions in `migrations/versions` (branch `relay`); a test
proves they build exactly these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.storage.models import ENTITY_ID_LENGTH, ID_LENGTH, TYPE_ANNOTATION_MAP, HomeOwned, json_type, new_metadata

RELAY_COMMAND_STATUSES = ("queued", "sent", "acknowledged", "confirmed", "failed", "timed_out", "expired")


class Base(DeclarativeBase):
    """Declarative base of the relay integration's tables (their own MetaData)."""

    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class RelayCommandRow(HomeOwned, Base):
    """One command to a device's entity and how far it got (queued ... confirmed or failed)."""

    __tablename__ = "relay_commands"
    __table_args__ = (
        Index("ix_relay_commands_home_id", "home_id"),
        Index("ix_relay_commands_entity_id_created_at", "entity_id", "created_at"),
        Index("ix_relay_commands_device_id_created_at", "device_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(ENTITY_ID_LENGTH))
    # No foreign keys: the history of commands outlives removed devices and users.
    device_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    command: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    context_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Commands beyond on/off/toggle: what they asked ({"value": 21}) and what confirmed them.
    parameters: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    new_state: Mapped[str | None] = mapped_column(String(255))


__all__ = ["RELAY_COMMAND_STATUSES", "Base", "RelayCommandRow"]
