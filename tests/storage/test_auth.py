"""The auth store: users, passwords, tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.auth import AuthStore, InvalidPasswordError, InvalidRoleError, UnknownUserError, UserExistsError
from hub.core.clock import ManualClock
from hub.exceptions import HubError
from hub.storage.models import TokenRow, UserRow


class Clock(ManualClock):
    """A manual clock whose `now` a test can read and set as a datetime."""

    @property
    def now(self) -> datetime:
        return self.utcnow()

    @now.setter
    def now(self, value: datetime) -> None:
        self._now = value.timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 1, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def auth(sessions, clock) -> AuthStore:
    return AuthStore(sessions, bcrypt_rounds=4, clock=clock)


async def test_users_and_passwords(auth, sessions):
    assert not await auth.has_users()
    owner = await auth.add_user("alice", "correct horse", "owner")
    assert owner.role == "owner" and owner.is_owner and owner.is_active
    assert await auth.has_users()

    with pytest.raises(UserExistsError):
        await auth.add_user("alice", "other", "user")
    assert issubclass(UserExistsError, HubError)
    with pytest.raises(InvalidRoleError):
        await auth.add_user("bob", "pw", "superuser")
    with pytest.raises(InvalidPasswordError):
        await auth.add_user("bob", "x" * 73, "user")
    with pytest.raises(InvalidPasswordError):
        await auth.add_user("bob", "", "user")
    viewer = await auth.add_user("bob", "pässwörd", "read-only")

    assert await auth.authenticate("alice", "correct horse") == owner
    assert await auth.authenticate("bob", "pässwörd") == viewer
    assert await auth.authenticate("alice", "wrong") is None
    assert await auth.authenticate("alice", "") is None
    assert await auth.authenticate("nobody", "correct horse") is None
    assert [u.name for u in await auth.list_users()] == ["alice", "bob"]
    assert await auth.get_user(owner.id) == owner

    async with sessions() as session:
        hashes = (await session.execute(select(UserRow.password_hash))).scalars().all()
    assert all(h.startswith("$2") and "correct horse" not in h and "pässwörd" not in h for h in hashes)


async def test_concurrent_add_user_same_name(auth):
    results = await asyncio.gather(*(auth.add_user("carol", "pw", "user") for _ in range(3)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, UserExistsError) for r in results if isinstance(r, Exception))


async def test_long_lived_tokens(auth, sessions, clock):
    user = await auth.add_user("alice", "pw", "admin")
    raw = await auth.create_long_lived_token(user.id, "grafana", lifespan_days=30)
    assert len(raw) >= 40

    async with sessions() as session:
        row = (await session.execute(select(TokenRow))).scalar_one()
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert row.token_hash != raw
    assert raw not in {row.id, row.label, row.token_hash, row.family_id}

    (info,) = await auth.list_tokens(user.id)
    assert info.label == "grafana" and info.kind == "long_lived" and info.last_used_at is None
    assert info.expires_at == clock.now + timedelta(days=30)

    clock.now += timedelta(days=1)
    validated = await auth.validate_token(raw)
    assert validated is not None
    v_user, v_token = validated
    assert v_user == user and v_token.id == info.id and v_token.last_used_at == clock.now
    (info,) = await auth.list_tokens(user.id)
    assert info.last_used_at == clock.now

    assert await auth.validate_token(raw + "x") is None
    assert await auth.validate_token("") is None
    assert await auth.validate_token(row.token_hash) is None  # the hash is not a token

    # Expiry.
    clock.now += timedelta(days=29)
    assert await auth.validate_token(raw) is None
    clock.now -= timedelta(seconds=1)
    assert await auth.validate_token(raw) is not None

    # Revocation.
    assert await auth.revoke_token(info.id) is True
    assert await auth.revoke_token(info.id) is False
    assert await auth.revoke_token("no-such-token") is False
    assert await auth.validate_token(raw) is None
    (info,) = await auth.list_tokens(user.id)
    assert info.revoked_at is not None

    # A second token is independent; unknown users get none.
    raw2 = await auth.create_long_lived_token(user.id, "ha-app")
    assert raw2 != raw and (await auth.validate_token(raw2)) is not None
    assert len(await auth.list_tokens(user.id)) == 2
    with pytest.raises(UnknownUserError):
        await auth.create_long_lived_token("no-such-user", "x")
