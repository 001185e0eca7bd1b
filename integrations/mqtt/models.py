"""The MQTT integration's table: the persisted discovery cache.

Created and changed only by the revisions in `migrations/versions` (branch `mqtt`); a test
proves they build exactly these models.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.storage.models import ID_LENGTH, NAME_LENGTH, SHORT_LENGTH, TYPE_ANNOTATION_MAP, HomeOwned, new_metadata
from hub.storage.scoped import home_id_default

TOPIC_LENGTH = 1024


class Base(DeclarativeBase):
    """Declarative base of the MQTT integration's tables (their own MetaData)."""

    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class MqttDiscoveryRow(HomeOwned, Base):
    """The last retained config payload of each discovery topic."""

    __tablename__ = "mqtt_discovery"

    home_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=home_id_default)
    discovery_topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    component: Mapped[str] = mapped_column(String(SHORT_LENGTH))
    discovery_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    updated_at: Mapped[datetime]
    # The config as validated (JSON) and the fingerprint of the schemas that validated it: at
    # start, a row whose fingerprint matches recreates its entity without validating again.
    config: Mapped[str | None] = mapped_column(Text)
    config_schema: Mapped[str | None] = mapped_column(String(SHORT_LENGTH))


__all__ = ["Base", "MqttDiscoveryRow"]
