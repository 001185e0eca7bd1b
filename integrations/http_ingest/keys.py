"""Device API keys: made once and shown once, kept as SHA-256 digests, expiring, revocable.

A key is `phk_` plus 43 random URL-safe characters (256 bits), so a plain SHA-256 digest is
enough to store it (no password stretching needed for a secret nobody chose). Each key belongs
to one device and may backfill `backfill_days` at most. Checking a key reads its row (one
indexed lookup), so a key revoked by any process (the CLI too) is refused on the next
request; only usage counts are written behind, in batches. Logs name a key by its prefix
(`phk_` and 6 characters), which is not enough to use it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.storage.models import table_of
from hub.util import new_ulid, slugify
from integrations.http_ingest.models import DeviceApiKeyRow

_LOGGER = logging.getLogger(__name__)
TABLE = table_of(DeviceApiKeyRow)
KEY_PREFIX = "phk_"
DEFAULT_BACKFILL_DAYS = 7.0
MAX_KEY_LENGTH = 100
_COLUMNS = ("id", "name", "prefix", "created_by", "created_at", "expires_at", "last_used_at", "usage_count", "revoked_at",
            "device", "backfill_days")


def hash_key(raw: str) -> str:
    """Return the stored digest of a raw key."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class ApiKey:
    """What is known about a key; never its raw value."""

    id: str
    name: str
    prefix: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    usage_count: int
    revoked_at: datetime | None
    device: str | None = None
    backfill_days: float = DEFAULT_BACKFILL_DAYS

    def __str__(self) -> str:
        return f"{self.prefix}... ({self.name})"

    def valid(self, now: datetime) -> bool:
        """Whether the key may be used now (not revoked, not expired)."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def as_dict(self) -> dict[str, Any]:
        """Return JSON-able data (ISO times) for the API."""
        data = {name: getattr(self, name) for name in _COLUMNS}
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


class ApiKeyStore:
    """Create, check, list and revoke device API keys."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession],
                 on_create: Callable[[str], None] | None = None) -> None:
        self._sessions = session_factory
        # Told the digest of each key made (a multi-home hub routes the key's requests to its home).
        self._on_create = on_create
        self._used: dict[str, ApiKey] = {}
        self._lock = asyncio.Lock()

    async def create(
        self,
        name: str,
        expires_days: float | None = None,
        created_by: str | None = None,
        *,
        device: str | None = None,
        backfill_days: float = DEFAULT_BACKFILL_DAYS,
    ) -> tuple[str, ApiKey]:
        """Make a key for one device; return (raw key, shown only now, and its record).

        Args:
            name: what the key is for, shown in listings (usually the device's name).
            expires_days: lifetime in days (None: no expiry).
            created_by: the user id of whoever made it.
            device: the device it writes for; the slug of `name` when not given.
            backfill_days: how far back its readings may go (the device's buffer).

        Raises:
            ValueError: no device slug can be made from `device` or `name`.
        """
        slug = slugify(device or name, fallback="")
        if not slug:
            message = f"cannot make a device id from {device or name!r}: use letters or digits"
            raise ValueError(message)
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        key = ApiKey(
            id=new_ulid(), name=name, prefix=raw[: len(KEY_PREFIX) + 6], created_by=created_by, created_at=now,
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
            last_used_at=None, usage_count=0, revoked_at=None, device=slug, backfill_days=float(backfill_days),
        )
        row = {name: getattr(key, name) for name in _COLUMNS}
        digest = hash_key(raw)
        async with self._sessions() as session, session.begin():
            await session.execute(insert(TABLE).values(key_hash=digest, **row))
        if self._on_create is not None:
            self._on_create(digest)
        return raw, key

    async def digests(self) -> list[str]:
        """Return the digest of every key not revoked (expired ones too: they answer 401 here)."""
        async with self._sessions() as session:
            rows = (await session.execute(select(TABLE.c.key_hash).where(TABLE.c.revoked_at.is_(None)))).all()
        return [row[0] for row in rows]

    async def check(self, raw: str) -> ApiKey | None:
        """Return the key when it is valid now (and count its use); None otherwise."""
        if not raw.startswith(KEY_PREFIX) or len(raw) > MAX_KEY_LENGTH:
            return None
        key = await self._load(hash_key(raw))
        # Keep the counts of a key in use: the row read may lag what is not written yet.
        if key is not None and key.id in self._used:
            pending = self._used[key.id]
            key.usage_count, key.last_used_at = pending.usage_count, pending.last_used_at
        now = datetime.now(UTC)
        if key is None or not key.valid(now):
            return None
        key.usage_count += 1
        key.last_used_at = now
        self._used[key.id] = key
        return key

    async def list(self) -> list[ApiKey]:
        """Return every key, newest first (usage written first)."""
        await self.flush()
        async with self._sessions() as session:
            rows = (await session.execute(select(*(TABLE.c[n] for n in _COLUMNS)).order_by(TABLE.c.created_at.desc()))).all()
        return [ApiKey(*row) for row in rows]

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key at once; return False when no live key has that id."""
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(TABLE).where(TABLE.c.id == key_id, TABLE.c.revoked_at.is_(None)).values(revoked_at=now)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult; AsyncSession.execute() is typed as returning Result

    async def bind(self, key: ApiKey, device: str) -> ApiKey:
        """Bind a key made before device binding to the device of its first request."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(TABLE).where(TABLE.c.id == key.id, TABLE.c.device.is_(None)).values(device=device)
            )
            stored = (await session.execute(select(TABLE.c.device).where(TABLE.c.id == key.id))).scalar_one()
        key.device = stored  # a concurrent first request may have bound it first
        return key

    async def flush(self) -> None:
        """Write the usage counts and last-used times gathered since the last flush."""
        async with self._lock:
            if not self._used:
                return
            used, self._used = self._used, {}
            try:
                async with self._sessions() as session, session.begin():
                    for key in used.values():
                        await session.execute(
                            update(TABLE).where(TABLE.c.id == key.id)
                            .values(usage_count=key.usage_count, last_used_at=key.last_used_at)
                        )
            except Exception:
                for key_id, key in used.items():
                    self._used.setdefault(key_id, key)
                raise

    async def _load(self, digest: str) -> ApiKey | None:
        async with self._sessions() as session:
            row = (await session.execute(select(*(TABLE.c[n] for n in _COLUMNS)).where(TABLE.c.key_hash == digest))).first()
        return None if row is None else ApiKey(*row)
