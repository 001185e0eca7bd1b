"""The persistent_notification integration's table: notifications shown until dismissed.

Created and changed only by the revisions in `migrations/versions` (branch
`persistent_notification`); a test proves they build exactly these models.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.storage.models import ID_LENGTH, NAME_LENGTH, TYPE_ANNOTATION_MAP, HomeOwned, new_metadata
from hub.storage.scoped import home_id_default


class Base(DeclarativeBase):
    """Declarative base of the persistent_notification integration's tables (their own MetaData)."""

    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class PersistentNotificationRow(HomeOwned, Base):
    """A notification shown in the web UI until someone dismisses it."""

    __tablename__ = "persistent_notifications"

    home_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=home_id_default)
    notification_id: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


__all__ = ["Base", "PersistentNotificationRow"]
