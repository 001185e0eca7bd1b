"""Tables of the web UI: saved history charts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.models import ID_LENGTH, NAME_LENGTH, Base, json_type


class SavedChartRow(Base):
    """A named history chart: its entities, range, refresh interval, aggregation and grouping."""

    __tablename__ = "frontend_charts"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(json_type())
    # No foreign key: a chart outlives the user who saved it.
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


__all__ = ["SavedChartRow"]
