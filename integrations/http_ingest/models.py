"""The http_ingest integration's table: the API keys devices post telemetry with.

Created and changed only by the revisions in `migrations/versions` (branch `http_ingest`); a
test proves they build exactly these models.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.storage.models import ID_LENGTH, NAME_LENGTH, SHORT_LENGTH, TYPE_ANNOTATION_MAP, HomeOwned, new_metadata


class Base(DeclarativeBase):
    """Declarative base of the http_ingest integration's tables (their own MetaData)."""

    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class DeviceApiKeyRow(HomeOwned, Base):
    """A key a device uses to post telemetry; only its SHA-256 digest is stored.

    A key belongs to one device (`device`, its slug): it writes that device's entities only,
    and readings at most `backfill_days` old. Keys from before the binding have no device
    until their first use binds them.
    """

    __tablename__ = "device_api_keys"

    __table_args__ = (Index("ix_device_api_keys_home_id", "home_id"),)

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
    device: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    backfill_days: Mapped[float] = mapped_column(Float, default=7.0)


__all__ = ["Base", "DeviceApiKeyRow"]
