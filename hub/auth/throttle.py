"""Failed-login throttling: backoff per (account, address) and per address, kept in the database.

Lockout without lock-in: failures count against the pair (this account from this address) and
against the address (guessing across accounts); never against the account alone, so the right
password from an address that is not throttled always works, the owner's included. Past a few
free failures each further failure doubles the wait before the next try, up to an hour; a
quiet day forgets the count. The counts survive a restart, and every hub process sharing the
database sees them. `hub user unlock NAME` clears an account's counts.

Home Assistant's `http: ip_ban_enabled` / `login_attempts_threshold` (off unless the
threshold is set) bans an address for good after that many failed logins; `hub auth unban`
lifts a ban.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.core.clock import Clock
from hub.storage.models import NAME_LENGTH, table_of
from hub.storage.models_api import ADDRESS_LENGTH, IpBanRow, LoginFailureRow

_LOGGER = logging.getLogger(__name__)
FAILURES = table_of(LoginFailureRow)
BANS = table_of(IpBanRow)


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """How failed logins are throttled.

    Attributes:
        free_per_pair: failures of one account from one address before backoff starts.
        free_per_address: failures from one address (any accounts) before backoff starts.
        first_delay: seconds of the first backoff; each further failure doubles it.
        max_delay: the longest backoff.
        forget_after: seconds without a failure after which a count starts again at zero.
        ban_threshold: failures from one address that ban it (0: never; `login_attempts_threshold`).
    """

    free_per_pair: int = 5
    free_per_address: int = 20
    first_delay: float = 30.0
    max_delay: float = 3600.0
    forget_after: float = 24 * 3600.0
    ban_threshold: int = 0

    def delay(self, failures: int, free: int) -> float:
        """Seconds to wait after `failures` failures (0 while they are free)."""
        if failures < free:
            return 0.0
        return float(min(self.max_delay, self.first_delay * 2 ** min(failures - free, 32)))


def pair_key(account: str, address: str) -> str:
    """Return the row key of an (account, address) pair."""
    return f"p:{address}|{account}"


def address_key(address: str) -> str:
    """Return the row key of an address."""
    return f"a:{address}"


def normal_account(name: str) -> str:
    """Return the form an account name is counted under."""
    return name.strip().lower()[:NAME_LENGTH]


class LoginThrottle:
    """Count failed logins in the database and say how long a pair or address must wait."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        policy: LoginPolicy | None = None,
    ) -> None:
        self._sessions = session_factory
        self.clock = clock
        self.policy = policy or LoginPolicy()
        self.banned: set[str] = set()  # addresses: checked on every request, so kept in memory

    async def retry_after(self, address: str | None, account: str) -> float:
        """Return the seconds until this account may try from this address (0: now)."""
        keys = self._keys(address, account)
        now = self.clock.utcnow()
        async with self._sessions() as session:
            rows = (await session.execute(
                select(FAILURES.c.blocked_until).where(FAILURES.c.key.in_(keys), FAILURES.c.blocked_until > now)
            )).scalars().all()
        return max(((until - now).total_seconds() for until in rows), default=0.0)

    async def failed(self, address: str | None, account: str) -> bool:
        """Count a failed login; return True when it made the pair or the address wait."""
        now = self.clock.utcnow()
        policy = self.policy
        blocked = False
        address = address[:ADDRESS_LENGTH] if address else None
        account = normal_account(account)
        targets: list[tuple[str, str | None, int]] = [(address_key(address), None, policy.free_per_address)] if address else []
        targets.append((pair_key(account, address or "?"), account, policy.free_per_pair))
        async with self._sessions() as session, session.begin():
            for key, row_account, free in targets:
                row = (await session.execute(
                    select(FAILURES.c.failures, FAILURES.c.last_failure_at).where(FAILURES.c.key == key)
                )).first()
                count = 1
                if row is not None and (now - row.last_failure_at).total_seconds() < policy.forget_after:
                    count = row.failures + 1
                wait = policy.delay(count, free)
                until = now + timedelta(seconds=wait) if wait else None
                blocked = blocked or wait > 0
                values = {"failures": count, "last_failure_at": now, "blocked_until": until}
                if row is None:
                    await self._insert(session, key, row_account, address, values)
                else:
                    await session.execute(update(FAILURES).where(FAILURES.c.key == key).values(**values))
                if row_account is None and address and policy.ban_threshold and count >= policy.ban_threshold:
                    await self._ban(session, address, f"{count} failed logins", now)
        return blocked

    async def succeeded(self, address: str | None, account: str) -> None:
        """Forget the pair's failures after a good login (the address keeps its count)."""
        key = pair_key(normal_account(account), (address or "?")[:ADDRESS_LENGTH])
        async with self._sessions() as session, session.begin():
            await session.execute(delete(FAILURES).where(FAILURES.c.key == key))

    async def unlock(self, account: str) -> int:
        """Clear every failure count of an account (from any address); return how many there were."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(FAILURES).where(FAILURES.c.account == normal_account(account)))
        return int(result.rowcount)  # type: ignore[attr-defined]  # a DML result is a CursorResult

    async def prune(self) -> None:
        """Delete counts nobody waits on any more (a spray of made-up names must not grow the table)."""
        now = self.clock.utcnow()
        stale = now - timedelta(seconds=self.policy.forget_after)
        async with self._sessions() as session, session.begin():
            await session.execute(delete(FAILURES).where(
                FAILURES.c.last_failure_at < stale, or_(FAILURES.c.blocked_until.is_(None), FAILURES.c.blocked_until < now)
            ))

    # ---- bans ----

    async def load_bans(self) -> set[str]:
        """Read the banned addresses into memory; return them."""
        async with self._sessions() as session:
            self.banned = set((await session.execute(select(BANS.c.address))).scalars())
        return self.banned

    async def bans(self) -> list[tuple[str, datetime, str]]:
        """Return every ban: (address, banned at, why)."""
        async with self._sessions() as session:
            rows = (await session.execute(select(BANS.c.address, BANS.c.banned_at, BANS.c.reason).order_by(BANS.c.banned_at))).all()
        return [(row.address, row.banned_at, row.reason) for row in rows]

    async def unban(self, address: str) -> bool:
        """Lift the ban of an address and forget its failures; False when it was not banned."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(BANS).where(BANS.c.address == address))
            await session.execute(delete(FAILURES).where(FAILURES.c.key == address_key(address)))
        self.banned.discard(address)
        return bool(result.rowcount)  # type: ignore[attr-defined]  # a DML result is a CursorResult

    async def _ban(self, session: AsyncSession, address: str, reason: str, now: datetime) -> None:
        if address in self.banned:
            return
        self.banned.add(address)
        _LOGGER.warning("Banned %s after %s (http: login_attempts_threshold); lift it with `hub auth unban %s`",
                        address, reason, address)
        exists = (await session.execute(select(BANS.c.address).where(BANS.c.address == address))).first()
        if exists is None:
            await session.execute(insert(BANS).values(address=address, banned_at=now, reason=reason))

    @staticmethod
    def _keys(address: str | None, account: str) -> list[str]:
        address = address[:ADDRESS_LENGTH] if address else None
        keys = [pair_key(normal_account(account), address or "?")]
        if address:
            keys.append(address_key(address))
        return keys

    @staticmethod
    async def _insert(session: AsyncSession, key: str, account: str | None, address: str | None,
                      values: dict[str, object]) -> None:
        try:
            async with session.begin_nested():
                await session.execute(insert(FAILURES).values(key=key, account=account, address=address, **values))
        except IntegrityError:  # a concurrent failure made the row first
            await session.execute(update(FAILURES).where(FAILURES.c.key == key).values(**values))
