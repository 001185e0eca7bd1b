"""The persisted MQTT discovery cache: the last config payload seen on each discovery topic.

At start the integration sets up discovered entities from this cache before the broker has
replayed its retained messages. Writes are batched (`DiscoveryStore`); `DiscoveryCache` reads
and writes the `mqtt_discovery` table directly.

A row also keeps its config as validated, with the fingerprint of the schemas that validated
it (`SCHEMA_FINGERPRINT`): at start such a row recreates its entity without validating again.
The payload stays the source of truth: a row without a validated config, with another
fingerprint (the hub was upgraded) or with one that does not parse is validated from its
payload, as the broker's copy of it would be.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import voluptuous as vol
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.storage.engine import upsert_statement
from hub.storage.models import table_of, utcnow
from integrations.mqtt import abbreviations, fast_schema, schemas, subscriptions
from integrations.mqtt.models import MqttDiscoveryRow

_LOGGER = logging.getLogger(__name__)

MQTT_DISCOVERY = table_of(MqttDiscoveryRow)
FLUSH_DELAY = 0.5
_BATCH = 500


# The project's modules a validated config depends on: the schemas, what they validate with
# (fast_schema's dict schemas, subscriptions' topic checks) and the abbreviations expanded first.
VALIDATION_MODULES = (schemas, fast_schema, subscriptions, abbreviations)


def _fingerprint() -> str:
    """What a validated config depends on: VALIDATION_MODULES' sources and voluptuous's version."""
    digest = hashlib.blake2b(digest_size=16)
    for module in VALIDATION_MODULES:
        digest.update(Path(str(module.__file__)).read_bytes())
    digest.update(str(getattr(vol, "__version__", "")).encode())
    return digest.hexdigest()


SCHEMA_FINGERPRINT = _fingerprint()


@dataclass(frozen=True, slots=True)
class CachedConfig:
    """One cached discovery payload, with its config as validated when that can be trusted."""

    payload: str
    validated: str | None  # JSON, validated by the schemas of this hub (SCHEMA_FINGERPRINT)


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

    async def load_configs(self) -> dict[str, CachedConfig]:
        """Every cached payload, by discovery topic, with its validated config if still valid."""
        table = MQTT_DISCOVERY
        async with self._session_factory() as session:
            rows = (
                await session.execute(
                    select(table.c.discovery_topic, table.c.payload, table.c.config, table.c.config_schema)
                )
            ).all()
        return {
            topic: CachedConfig(payload, config if fingerprint == SCHEMA_FINGERPRINT else None)
            for topic, payload, config, fingerprint in rows
        }

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
            **_validated_columns(None),  # a new payload: validated again at the next start
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
        self._pending: dict[str, tuple[str, str, str, dict[str, Any] | None] | None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None

    async def load(self) -> dict[str, str]:
        """Return every cached payload by discovery topic."""
        return await self._cache.load()

    async def load_configs(self) -> dict[str, CachedConfig]:
        """Return every cached payload by discovery topic (validated configs where still valid)."""
        return await self._cache.load_configs()

    async def load_entries(self) -> dict[str, DiscoveryEntry]:
        """Return every cached message with its component, discovery id and time, by topic."""
        return await self._cache.load_entries()

    def put(self, topic: str, payload: str, component: str, discovery_id: str, validated: dict[str, Any] | None = None) -> None:
        """Remember a payload and, if given, its config as validated (written within FLUSH_DELAY seconds)."""
        self._pending[topic] = (payload, component, discovery_id, validated)
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
            {"discovery_topic": topic, "payload": v[0], "component": v[1], "discovery_id": v[2], "updated_at": now,
             **_validated_columns(v[3])}
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


def _validated_columns(validated: dict[str, Any] | None) -> dict[str, str | None]:
    """The config and config_schema columns of a validated config (both None without one)."""
    if validated is None:
        return {"config": None, "config_schema": None}
    try:
        text = orjson.dumps(validated).decode()
    except TypeError:  # not JSON (cannot happen for a schema's output, but never lose the row)
        return {"config": None, "config_schema": None}
    return {"config": text, "config_schema": SCHEMA_FINGERPRINT}


__all__ = ["SCHEMA_FINGERPRINT", "CachedConfig", "DiscoveryCache", "DiscoveryEntry", "DiscoveryStore"]
