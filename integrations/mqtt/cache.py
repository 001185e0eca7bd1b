"""The persisted MQTT discovery cache: the last config payload seen on each discovery topic.

At start the integration sets up discovered entities from this cache before the broker has
replayed its retained messages. Writes are batched (`DiscoveryStore`); `DiscoveryCache` reads
and writes the `mqtt_discovery` table directly.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.storage.engine import upsert_statement
from hub.storage.models import table_of, utcnow
from integrations.mqtt.models import MqttDiscoveryRow

_LOGGER = logging.getLogger(__name__)

MQTT_DISCOVERY = table_of(MqttDiscoveryRow)
FLUSH_DELAY = 0.5
_BATCH = 500


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
                        session.get_bind().dialect.name, MQTT_DISCOVERY, ["home_id", "discovery_topic"]
                    )
                except NotImplementedError:
                    result = await session.execute(
                        update(MQTT_DISCOVERY)
                        .where(MQTT_DISCOVERY.c.discovery_topic == topic)
                        .values(**values)
                    )
                    if result.rowcount == 0:  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult; AsyncSession.execute() is typed as returning Result
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




class DiscoveryStore:
    """Buffer discovery writes and flush them in one transaction per batch.

    A storm of a thousand retained configs becomes a couple of transactions instead of a
    thousand; the last write per topic wins.
    """

    def __init__(self, session_factory: Any) -> None:
        self._sessions = session_factory
        self._cache = DiscoveryCache(session_factory)
        self._pending: dict[str, tuple[str, str, str] | None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None

    async def load(self) -> dict[str, str]:
        """Return every cached payload by discovery topic."""
        return await self._cache.load()

    async def load_entries(self) -> dict[str, DiscoveryEntry]:
        """Return every cached message with its component, discovery id and time, by topic."""
        return await self._cache.load_entries()

    def put(self, topic: str, payload: str, component: str, discovery_id: str) -> None:
        """Remember a payload (written within FLUSH_DELAY seconds)."""
        self._pending[topic] = (payload, component, discovery_id)
        self._schedule()

    def remove(self, topic: str) -> None:
        """Forget a payload (written within FLUSH_DELAY seconds)."""
        self._pending[topic] = None
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None and self._flushing is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_DELAY, self._start_flush)

    def _start_flush(self) -> None:
        self._timer = None
        self._flushing = asyncio.get_running_loop().create_task(self._flush_loop(), name="mqtt discovery cache")

    async def _flush_loop(self) -> None:
        try:
            while self._pending:
                await self._write_batch()
        finally:
            self._flushing = None

    async def flush(self) -> None:
        """Write everything pending now (at stop)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        while self._pending:
            await self._write_batch()

    async def _write_batch(self) -> None:
        topics = list(self._pending)[:_BATCH]
        batch = {topic: self._pending.pop(topic) for topic in topics}
        now = utcnow()
        upserts = [
            {"discovery_topic": topic, "payload": v[0], "component": v[1], "discovery_id": v[2], "updated_at": now}
            for topic, v in batch.items()
            if v is not None
        ]
        removals = [topic for topic, v in batch.items() if v is None]
        try:
            async with self._sessions() as session, session.begin():
                if removals:
                    await session.execute(delete(MQTT_DISCOVERY).where(MQTT_DISCOVERY.c.discovery_topic.in_(removals)))
                if upserts:
                    dialect = session.get_bind().dialect.name
                    await session.execute(upsert_statement(dialect, MQTT_DISCOVERY, ["home_id", "discovery_topic"]), upserts)
        except Exception:  # noqa: BLE001 - the broker still has the retained configs
            _LOGGER.exception("Saving %d MQTT discovery configs failed", len(batch))


__all__ = ["DiscoveryCache", "DiscoveryEntry", "DiscoveryStore"]
