"""The persisted MQTT discovery cache: the last config payload seen on each discovery topic.

At start the MQTT integration can set up discovered entities from this cache before the broker
has replayed its retained messages.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.storage.engine import upsert_statement
from hub.storage.models import MqttDiscoveryRow, utcnow

MQTT_DISCOVERY = MqttDiscoveryRow.__table__


@dataclass(frozen=True, slots=True)
class DiscoveryEntry:
    """One cached discovery message."""

    discovery_topic: str
    payload: str
    component: str
    discovery_id: str
    updated_at: datetime


class DiscoveryCache:
    """Reads and writes the `mqtt_discovery` table; writes happen in call order."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._lock = asyncio.Lock()

    async def load(self) -> dict[str, str]:
        """Every cached payload, by discovery topic."""
        table = MQTT_DISCOVERY
        async with self._session_factory() as session:
            rows = (await session.execute(select(table.c.discovery_topic, table.c.payload))).all()
        return {topic: payload for topic, payload in rows}

    async def load_entries(self) -> dict[str, DiscoveryEntry]:
        """Every cached message with its component, discovery id and time, by topic."""
        table = MQTT_DISCOVERY
        async with self._session_factory() as session:
            rows = (
                await session.execute(
                    select(
                        table.c.discovery_topic,
                        table.c.payload,
                        table.c.component,
                        table.c.discovery_id,
                        table.c.updated_at,
                    )
                )
            ).all()
        return {row[0]: DiscoveryEntry(*row) for row in rows}

    async def put(self, topic: str, payload: str, component: str, discovery_id: str) -> None:
        """Store (or replace) the payload of `topic`."""
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8")
        values = {
            "discovery_topic": topic,
            "payload": payload,
            "component": component,
            "discovery_id": discovery_id,
            "updated_at": utcnow(),
        }
        async with self._lock:
            async with self._session_factory() as session, session.begin():
                try:
                    statement = upsert_statement(
                        session.get_bind().dialect.name, MQTT_DISCOVERY, ["discovery_topic"]
                    )
                except NotImplementedError:
                    result = await session.execute(
                        update(MQTT_DISCOVERY)
                        .where(MQTT_DISCOVERY.c.discovery_topic == topic)
                        .values(**values)
                    )
                    if result.rowcount == 0:  # type: ignore[attr-defined]
                        await session.execute(insert(MQTT_DISCOVERY).values(**values))
                else:
                    await session.execute(statement, [values])

    async def remove(self, topic: str) -> None:
        """Forget the payload of `topic` (nothing happens if there is none)."""
        async with self._lock:
            async with self._session_factory() as session, session.begin():
                await session.execute(
                    delete(MQTT_DISCOVERY).where(MQTT_DISCOVERY.c.discovery_topic == topic)
                )


__all__ = ["DiscoveryCache", "DiscoveryEntry"]
