"""The counter's own table: the last value of each counter, so it survives restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.storage import TYPE_ANNOTATION_MAP, new_metadata


class Base(DeclarativeBase):
    """Declarative base of this integration's tables: a MetaData of its own."""

    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class CounterRow(Base):
    """One counter's value."""

    __tablename__ = "example_counter_values"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[int]
    updated_at: Mapped[datetime]
