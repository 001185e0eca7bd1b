"""The frontend integration's table: saved history charts.

Created and changed only by the revisions in `migrations/versions` (branch `frontend`); a test
proves they build exactly these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.storage.models import ID_LENGTH, NAME_LENGTH, TYPE_ANNOTATION_MAP, HomeOwned, json_type, new_metadata


class Base(DeclarativeBase):
    """Declarative base of the frontend integration's tables (their own MetaData)."""

    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class SavedChartRow(HomeOwned, Base):
    """A named history chart: its entities, range, refresh interval, aggregation and grouping."""

    __tablename__ = "frontend_charts"

    __table_args__ = (UniqueConstraint("home_id", "name"),)  # names are unique per home

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    config: Mapped[dict[str, Any]] = mapped_column(json_type())
    # No foreign key: a chart outlives the user who saved it.
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


__all__ = ["Base", "SavedChartRow"]
