"""Discovery payloads persisted in batches, so entities come back at start before the broker does."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import delete

from hub.registry.discovery import MQTT_DISCOVERY, DiscoveryCache
from hub.storage.engine import upsert_statement
from hub.storage.models import utcnow

_LOGGER = logging.getLogger(__name__)

FLUSH_DELAY = 0.5
_BATCH = 500


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
                    await session.execute(upsert_statement(dialect, MQTT_DISCOVERY, ["discovery_topic"]), upserts)
        except Exception:  # noqa: BLE001 - the broker still has the retained configs
            _LOGGER.exception("Saving %d MQTT discovery configs failed", len(batch))
