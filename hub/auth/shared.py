"""What the auth stores of the homes of one process share (docs/homes.md, "Users and tokens").

Each home has an `AuthStore` over its own scoped sessions: its members, the tokens made in it,
its audit rows. Shared by them, since none is a home's: the token signing keys, the revoked
sessions and tokens, the login throttle and bans (tables without a tenant), and the lookups a
request needs before its home is known, which go through the `SECURITY DEFINER` functions of
hub/tenancy/login.py (a login by user name, a token's home, a user's homes).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.auth.access import ACCESS_TOKEN_LIFETIME, AccessTokens
from hub.auth.polling import POLL_INTERVAL, poll_until_cancelled
from hub.auth.revocations import Revocations
from hub.auth.signing_keys import KeyFile
from hub.auth.throttle import LoginPolicy, LoginThrottle
from hub.core.clock import Clock
from hub.core.scope import HomeScope
from hub.tenancy.login import LoginUser, find_login, token_scope
from hub.tenancy.store import TenancyStore

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from hub.auth.store import AuthStore

_LOGGER = logging.getLogger(__name__)
TOKEN_HOMES_LIMIT = 4096  # tokens whose home is kept in memory


class HomesAuth:
    """The signing keys, revocations and throttle of a process's homes, and its cross-home lookups.

    Args:
        engine: the process's one engine (the application role).
        sessions: sessions for the process-level tables (revocations, login failures, bans).
        clock: the process's clock.
        data_dir: where the token signing keys are (None: one key in memory).
        http: the `http:` section (token lifetime, login throttle).
    """

    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 data_dir: Path | None, http: dict[str, Any]) -> None:
        threshold = int(http.get("login_attempts_threshold", -1))
        banning = bool(http.get("ip_ban_enabled", True)) and threshold > 0
        self.engine = engine
        self.clock = clock
        self.revocations = Revocations(sessions, clock)
        key_file = KeyFile.in_data_dir(data_dir) if data_dir is not None else None
        lifetime = int(http.get("access_token_lifetime", ACCESS_TOKEN_LIFETIME))
        self.access = AccessTokens(key_file, clock, lifetime, self.revocations.is_revoked)
        self.throttle = LoginThrottle(sessions, clock, LoginPolicy(ban_threshold=threshold if banning else 0))
        self.stores: dict[str, AuthStore] = {}  # home id -> that home's store
        self._directory = TenancyStore(engine)
        # user id -> their homes and roles: every request asks; forgotten as users are (each poll, each change).
        self._homes_of: dict[str, list[tuple[HomeScope, str]]] = {}
        # token hash -> (home, user id): a token's home never changes, and a request asks twice
        # (the front dispatch, then the home's store); a token deleted since is refused by its store.
        self._token_homes: dict[str, tuple[HomeScope, str]] = {}

    def store(self, sessions: async_sessionmaker[AsyncSession], bcrypt_rounds: int | None = None) -> AuthStore:
        """Return the auth store of one home (its scoped sessions), registered for cross-home lookups."""
        from hub.auth.store import DEFAULT_BCRYPT_ROUNDS, AuthStore  # noqa: PLC0415 - store.py imports this module

        store = AuthStore(sessions, bcrypt_rounds=bcrypt_rounds or DEFAULT_BCRYPT_ROUNDS, clock=self.clock,
                          shared=self)
        self.stores[store.scope.home_id] = store
        return store

    async def start(self) -> None:
        """Load the signing keys, revoked sessions and bans before any request."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: self.access.ring)  # file I/O, off the event loop
        await self.revocations.load()
        await self.throttle.load_bans()

    async def poll(self) -> None:
        """Pick up what other processes changed: a rotated key, revocations, bans, users."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.access.reload_if_changed)
        await self.revocations.poll()
        await self.throttle.load_bans()
        self.forget_users()

    async def watch(self, interval: float = POLL_INTERVAL) -> None:
        """Poll for changes made by other processes until cancelled (one task for every home)."""
        await poll_until_cancelled(self.poll, self.prune, interval)

    async def prune(self) -> None:
        """Delete revocations and failure counts that no longer matter."""
        await self.revocations.prune()
        await self.throttle.prune()

    def forget_users(self, user_id: str | None = None) -> None:
        """Drop a user (every user when None) from every home's memory: read again on next use.

        A user's name and active flag are the tenant's, shared by the homes they are a member of;
        a change made in one home must count in the others at once. Their homes and roles are
        read again too.
        """
        for store in self.stores.values():
            store.forget_user(user_id)
        if user_id is None:
            self._homes_of.clear()
        else:
            self._homes_of.pop(user_id, None)

    async def find_login(self, name: str) -> LoginUser | None:
        """The user of that name in any tenant (user names are unique in the process)."""
        return await find_login(self.engine, name)

    async def token_home(self, token_hash: str) -> tuple[HomeScope, str] | None:
        """The home a stored token was made in and its user id; None for no such token."""
        found = self._token_homes.get(token_hash)
        if found is None:
            found = await token_scope(self.engine, token_hash)
            if found is not None:
                if len(self._token_homes) >= TOKEN_HOMES_LIMIT:
                    self._token_homes.clear()  # bounded: a process serves a few thousand tokens at most
                self._token_homes[token_hash] = found
        return found

    async def store_of_token(self, token_hash: str) -> AuthStore | None:
        """The store of the home (of this process) a stored token was made in, None when there is none."""
        found = await self.token_home(token_hash)
        if found is None:
            return None
        store = self.stores.get(found[0].home_id)
        return store if store is not None and store.scope == found[0] else None

    async def homes_of(self, user_id: str) -> list[tuple[HomeScope, str]]:
        """The homes a user has a role in, with the role (from memory until forget_users)."""
        found = self._homes_of.get(user_id)
        if found is None:
            found = self._homes_of[user_id] = await self._directory.homes_of(user_id)
        return found


__all__ = ["HomesAuth"]
