"""Tables of the power integrations: relay commands with their lifecycle, and device API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.models import ENTITY_ID_LENGTH, ID_LENGTH, NAME_LENGTH, SHORT_LENGTH, Base

RELAY_COMMAND_STATUSES = ("queued", "sent", "acknowledged", "confirmed", "failed", "timed_out", "expired")


class RelayCommandRow(Base):
    """One on/off/toggle command to a relay and how far it got (queued ... confirmed or failed)."""

    __tablename__ = "relay_commands"
    __table_args__ = (Index("ix_relay_commands_entity_id_created_at", "entity_id", "created_at"),)

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


class DeviceApiKeyRow(Base):
    """A key a device uses to post telemetry; only its SHA-256 digest is stored."""

    __tablename__ = "device_api_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    key_hash: Mapped[str] = mapped_column(String(SHORT_LENGTH), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[datetime | None]


__all__ = ["RELAY_COMMAND_STATUSES", "DeviceApiKeyRow", "RelayCommandRow"]
