"""The energy integration's table: what it keeps across restarts, by key.

Created and changed only by the revisions in `migrations/versions` (branch `energy`); a test
proves they build exactly these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.storage.models import ID_LENGTH, NAME_LENGTH, TYPE_ANNOTATION_MAP, HomeOwned, json_type, new_metadata
from hub.storage.scoped import home_id_default


class Base(DeclarativeBase):
    """Declarative base of the energy integration's tables (their own MetaData)."""

    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class EnergyStateRow(HomeOwned, Base):
    """What the energy integration must keep across restarts, by key.

    Keys name their owner (`meter:<entity_id>`, `utility:<name>`, `budget:<name>`); the value
    holds its accumulated totals, the last reading seen and the current period's start.
    """

    __tablename__ = "energy_state"

    home_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=home_id_default)
    key: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(json_type())
    updated_at: Mapped[datetime]


__all__ = ["Base", "EnergyStateRow"]
