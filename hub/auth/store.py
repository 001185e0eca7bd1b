"""Users, password checks and access tokens, stored in the hub's database.

Passwords are kept as bcrypt hashes; tokens as the SHA-256 hex digest of the raw token, which
is shown once, when it is created. Nothing returned here is an ORM object.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bcrypt
from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.access import ACCESS_TOKEN_LIFETIME, AccessTokens, HomeAccessTokens
from hub.auth.audit import AuditLog
from hub.auth.polling import POLL_INTERVAL, poll_until_cancelled
from hub.auth.revocations import KIND_SESSION, KIND_TOKEN, Revocations
from hub.auth.signing_keys import KeyFile
from hub.auth.throttle import LoginPolicy, LoginThrottle
from hub.core.clock import Clock, SystemClock
from hub.exceptions import HubError
from hub.storage.models import NAME_LENGTH, USER_ROLES, TokenRow, UserRow, table_of
from hub.storage.scoped import scope_of_sessions
from hub.tenancy.models import HomeMemberRow
from hub.util import new_ulid

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.sql import Select

    from hub.auth.shared import HomesAuth
    from hub.core.scope import HomeScope

_LOGGER = logging.getLogger(__name__)
USERS = table_of(UserRow)
TOKENS = table_of(TokenRow)
HOME_MEMBERS = table_of(HomeMemberRow)

ROLE_OWNER, ROLE_ADMIN, ROLE_USER, ROLE_READ_ONLY = USER_ROLES
TOKEN_LONG_LIVED = "long_lived"
TOKEN_REFRESH = "refresh"
DEFAULT_BCRYPT_ROUNDS = 12
MAX_PASSWORD_BYTES = 72  # bcrypt looks at no more; bcrypt>=5 refuses longer input


class AuthError(HubError):
    """An authentication or user-management operation was refused."""


class UserExistsError(AuthError):
    """A user with this name already exists."""


class UnknownUserError(AuthError):
    """No user has this id."""


class InvalidRoleError(AuthError):
    """The role is not one of owner, admin, user, read-only."""


class InvalidPasswordError(AuthError):
    """The password is empty, not text, or longer than bcrypt can take (72 UTF-8 bytes)."""


class LoginLockedError(AuthError):
    """Too many failed logins from this address or for this user: try again later."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"Too many failed logins; try again in {int(retry_after) + 1} s")


class InvalidCredentialsError(AuthError):
    """The user name or password is wrong (deliberately not saying which)."""


class RefreshTokenError(AuthError):
    """The refresh token is unknown, expired, revoked or its user is inactive."""


class RefreshTokenReuseError(RefreshTokenError):
    """A refresh token that was already rotated was presented again: its family is revoked."""


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    role: str
    is_active: bool
    created_at: datetime

    @property
    def is_owner(self) -> bool:
        return self.role == ROLE_OWNER

    @property
    def is_admin(self) -> bool:
        """Owners and admins."""
        return self.role in (ROLE_OWNER, ROLE_ADMIN)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is known about a token; never its raw value nor its hash."""

    id: str
    user_id: str
    kind: str
    label: str | None
    family_id: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def is_valid(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


_USER_COLUMNS = (USERS.c.id, USERS.c.name, USERS.c.role, USERS.c.is_active, USERS.c.created_at)
_TOKEN_COLUMNS = (
    TOKENS.c.id,
    TOKENS.c.user_id,
    TOKENS.c.kind,
    TOKENS.c.label,
    TOKENS.c.family_id,
    TOKENS.c.created_at,
    TOKENS.c.expires_at,
    TOKENS.c.last_used_at,
    TOKENS.c.revoked_at,
)


def hash_token(raw: str) -> str:
    """The SHA-256 hex digest under which a raw token is stored."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _password_bytes(password: str) -> bytes:
    if not isinstance(password, str) or not password:
        raise InvalidPasswordError("The password must be a non-empty string")
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise InvalidPasswordError(f"The password is longer than {MAX_PASSWORD_BYTES} bytes")
    return encoded


class AuthStore:
    """Users and tokens in the database; users, revoked sessions and bans also in memory.

    A hub serving one home has one store. A process serving many homes gives each home a store
    over its scoped sessions, `shared` by them (hub/auth/shared.py): its users are the members of
    its home, with their role in it (from `home_members`); its tokens and audit rows are the
    ones made in it. A token made in another home of the process is checked by that home's
    store (its user then needs a role here too, which the request's home checks).

    Args:
        session_factory: the hub's database.
        bcrypt_rounds: the cost of password hashes.
        clock: the hub's clock.
        key_file: the file of the token signing keys (None: one key in memory, for a hub
            without a data dir and for maintenance commands, which issue no access tokens).
        access_lifetime: seconds an access token lives (`http: access_token_lifetime`).
        login_policy: how failed logins are throttled and when an address is banned.
        shared: what the homes of a multi-home process share (their keys, revocations and
            throttle, and the cross-home lookups); None for a hub of one home.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS,
        clock: Clock | None = None,
        key_file: KeyFile | None = None,
        access_lifetime: int = ACCESS_TOKEN_LIFETIME,
        login_policy: LoginPolicy | None = None,
        shared: HomesAuth | None = None,
    ) -> None:
        self._session_factory = session_factory
        self.scope: HomeScope = scope_of_sessions(session_factory)
        self._rounds = bcrypt_rounds
        self.clock = clock or SystemClock()
        self._dummy_hash: bytes | None = None
        self._users: dict[str, User] = {}
        self.shared = shared
        # Called with each user add_user makes, and this home's scope (the host declares roles there).
        self.user_added: Callable[[User, HomeScope], Awaitable[None]] | None = None
        self.audit = AuditLog(session_factory, self.clock)
        if shared is not None:
            self.revocations, self.throttle = shared.revocations, shared.throttle
            self.access: AccessTokens = HomeAccessTokens(shared.access, self.scope.home_id)
            return
        self.revocations = Revocations(session_factory, self.clock)
        self.access = AccessTokens(key_file, self.clock, access_lifetime, self.revocations.is_revoked)
        self.throttle = LoginThrottle(session_factory, self.clock, login_policy)

    @classmethod
    def for_hub(
        cls, session_factory: async_sessionmaker[AsyncSession], clock: Clock, data_dir: Path | None, http: dict[str, Any]
    ) -> AuthStore:
        """Return the auth store of a hub: keys in its data dir, settings from its `http:` section."""
        threshold = int(http.get("login_attempts_threshold", -1))
        banning = bool(http.get("ip_ban_enabled", True)) and threshold > 0
        return cls(
            session_factory,
            clock=clock,
            key_file=KeyFile.in_data_dir(data_dir) if data_dir is not None else None,
            access_lifetime=int(http.get("access_token_lifetime", ACCESS_TOKEN_LIFETIME)),
            login_policy=LoginPolicy(ban_threshold=threshold if banning else 0),
        )

    async def watch(self, interval: float = POLL_INTERVAL) -> None:
        """Poll for changes made by other processes until cancelled (a task of the hub)."""
        await poll_until_cancelled(self.poll, self.prune, interval)

    async def start(self) -> None:
        """Load what requests check without a query: signing keys, revoked sessions, bans, users.

        A home's store of many loads its users only (the shared part starts once, HomesAuth.start).
        """
        if self.shared is not None:
            self._users = {user.id: user for user in await self.list_users()}
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: self.access.ring)  # file I/O, off the event loop
        await self.revocations.load()
        await self.throttle.load_bans()
        self._users = {user.id: user for user in await self.list_users()}

    async def poll(self) -> None:
        """Pick up what other processes changed: a rotated key, revocations, bans, new users."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.access.reload_if_changed)
        await self.revocations.poll()
        await self.throttle.load_bans()
        self._users = {user.id: user for user in await self.list_users()}

    async def prune(self) -> None:
        """Delete revocations and failure counts that no longer matter."""
        await self.revocations.prune()
        await self.throttle.prune()

    def cached_user(self, user_id: str) -> User | None:
        """Return a user known in memory (None: unknown here; ask get_user)."""
        return self._users.get(user_id)

    def forget_user(self, user_id: str | None = None) -> None:
        """Drop a user (every user when None) from memory: get_user reads them again."""
        if user_id is None:
            self._users.clear()
        else:
            self._users.pop(user_id, None)

    def _select_users(self, *extra: Any) -> Select[Any]:
        """Users with their role: the members of this home (role in it) when it is one of many."""
        if self.shared is None:
            return select(*_USER_COLUMNS, *extra)
        return select(USERS.c.id, USERS.c.name, HOME_MEMBERS.c.role, USERS.c.is_active, USERS.c.created_at,
                      *extra).join_from(USERS, HOME_MEMBERS, and_(HOME_MEMBERS.c.user_id == USERS.c.id,
                                                                 HOME_MEMBERS.c.home_id == self.scope.home_id))

    def _changed_user(self, user_id: str) -> None:
        if self.shared is not None:  # name and active flag are the tenant's, roles the host's: read again
            self.shared.forget_users(user_id)

    # ---- users ----

    async def add_user(self, name: str, password: str, role: str = ROLE_USER) -> User:
        """Create an active user. UserExistsError if the name is taken."""
        if role not in USER_ROLES:
            raise InvalidRoleError(f"Invalid role {role!r}; expected one of {', '.join(USER_ROLES)}")
        if not isinstance(name, str) or not name.strip() or len(name) > NAME_LENGTH:
            raise AuthError(f"A user name must be 1 to {NAME_LENGTH} characters")
        name = name.strip()
        secret = _password_bytes(password)
        if await self._name_taken(name):
            raise UserExistsError(f"User {name!r} already exists")
        password_hash = await self._hash(secret)
        user = User(id=new_ulid(), name=name, role=role, is_active=True, created_at=self.clock.utcnow())
        try:
            async with self._session_factory() as session, session.begin():
                await session.execute(
                    insert(USERS).values(
                        id=user.id,
                        name=user.name,
                        password_hash=password_hash,
                        role=user.role,
                        is_active=user.is_active,
                        created_at=user.created_at,
                    )
                )
                # A user of this hub is a member of its home, with the role given.
                await session.execute(
                    insert(HOME_MEMBERS).values(home_id=self.scope.home_id, user_id=user.id, role=role)
                )
        except IntegrityError as err:  # lost a race with another add_user of this name
            raise UserExistsError(f"User {name!r} already exists") from err
        self._users[user.id] = user
        if self.user_added is not None:
            await self.user_added(user, self.scope)
            self._changed_user(user.id)  # its roles may be the ones declared
            return await self.get_user(user.id) or user
        return user

    async def authenticate(self, name: str, password: str) -> User | None:
        """The active user with this name and password, else None.

        Takes about as long whether or not the user exists: a missing or inactive user still
        costs one bcrypt check, against a dummy hash.
        """
        try:
            secret = _password_bytes(password)
        except InvalidPasswordError:
            secret = b"\0"
        row = await self._user_row_by_name(name.strip() if isinstance(name, str) else "")
        if row is None or not row.is_active:
            await self._check(secret, await self._get_dummy_hash())
            return None
        if not await self._check(secret, row.password_hash.encode("ascii")):
            return None
        return User(row.id, row.name, row.role, row.is_active, row.created_at)

    async def login(self, name: str, password: str, remote: str | None = None) -> User:
        """Check a password login with throttling and an audit row; return the user.

        Raises:
            LoginLockedError: too many recent failures for this address or user name.
            InvalidCredentialsError: wrong name or password.
        """
        name = name.strip() if isinstance(name, str) else ""
        wait = await self.throttle.retry_after(remote, name)
        if wait > 0:
            self.audit.record(None, "login", None, "throttled", remote, user_name=name[:NAME_LENGTH])
            raise LoginLockedError(wait)
        user = await self.authenticate(name, password)
        if user is None:
            locked = await self.throttle.failed(remote, name)
            self.audit.record(None, "login", None, "throttled" if locked else "invalid_credentials",
                              remote, user_name=name[:NAME_LENGTH])
            raise InvalidCredentialsError("Invalid username or password")
        await self.throttle.succeeded(remote, name)
        self.audit.record(user, "login", None, "ok", remote)
        return user

    async def get_user(self, user_id: str) -> User | None:
        """Return a user (from memory when known there), None when there is no such user."""
        cached = self._users.get(user_id)
        if cached is not None:
            return cached
        async with self._session_factory() as session:
            row = (await session.execute(self._select_users().where(USERS.c.id == user_id))).first()
        if row is None:
            return None
        user = self._users[user_id] = User(*row)
        return user

    async def user_by_name(self, name: str) -> User | None:
        """Return the user with this name, None when there is none."""
        row = await self._user_row_by_name(name.strip())
        return None if row is None else User(row.id, row.name, row.role, row.is_active, row.created_at)

    async def list_users(self) -> list[User]:
        """Every user (of this home, with their role in it, when it is one of many)."""
        async with self._session_factory() as session:
            rows = (await session.execute(self._select_users().order_by(USERS.c.created_at, USERS.c.id))).all()
        return [User(*row) for row in rows]

    async def has_users(self) -> bool:
        """Whether there is a user (a member of this home, when it is one of many)."""
        async with self._session_factory() as session:
            count = (await session.execute(select(func.count()).select_from(self._select_users().subquery())))
        return bool(count.scalar_one())

    async def update_user(
        self, user_id: str, *, name: str | None = None, role: str | None = None, is_active: bool | None = None
    ) -> User:
        """Change a user's name, role or active flag; deactivating ends every session of the user.

        Raises:
            UnknownUserError: no such user.
            InvalidRoleError: not a role; or the change would leave the hub without an active owner.
            UserExistsError: another user has the name.
        """
        user = await self.get_user(user_id)
        if user is None:
            raise UnknownUserError(f"No user {user_id}")
        changes: dict[str, Any] = {}
        if name is not None and name.strip() != user.name:
            name = name.strip()
            if not name or len(name) > NAME_LENGTH:
                raise AuthError(f"A user name must be 1 to {NAME_LENGTH} characters")
            if await self._name_taken(name):
                raise UserExistsError(f"User {name!r} already exists")
            changes["name"] = name
        if role is not None and role != user.role:
            if role not in USER_ROLES:
                raise InvalidRoleError(f"Invalid role {role!r}; expected one of {', '.join(USER_ROLES)}")
            changes["role"] = role
        if is_active is not None and is_active != user.is_active:
            changes["is_active"] = is_active
        if not changes:
            return user
        if user.is_owner and (changes.get("role", ROLE_OWNER) != ROLE_OWNER or changes.get("is_active") is False):
            await self._keep_an_owner(user_id)
        # One of many homes changes the role in itself only; a single home keeps the column in step.
        global_changes = {k: v for k, v in changes.items() if k != "role" or self.shared is None}
        async with self._session_factory() as session, session.begin():
            if global_changes:
                await session.execute(update(USERS).where(USERS.c.id == user_id).values(**global_changes))
            if "role" in changes:  # and in this hub's home
                await session.execute(
                    update(HOME_MEMBERS)
                    .where(HOME_MEMBERS.c.user_id == user_id, HOME_MEMBERS.c.home_id == self.scope.home_id)
                    .values(role=changes["role"])
                )
        self._changed_user(user_id)
        updated = self._users[user_id] = replace(user, **changes)
        if changes.get("is_active") is False:
            await self.revoke_user_tokens(user_id)
        return updated

    async def set_password(self, user_id: str, password: str) -> None:
        """Give a user a new password and end their other sessions (a reset locks out whoever
        knew the old one). Raises UnknownUserError, InvalidPasswordError."""
        if await self.get_user(user_id) is None:
            raise UnknownUserError(f"No user {user_id}")
        password_hash = await self._hash(_password_bytes(password))
        async with self._session_factory() as session, session.begin():
            await session.execute(update(USERS).where(USERS.c.id == user_id).values(password_hash=password_hash))
        await self.revoke_user_tokens(user_id, kinds=(TOKEN_REFRESH,))

    async def check_password(self, user_id: str, password: str) -> bool:
        """Whether password is the user's current one."""
        user = await self.get_user(user_id)
        row = None if user is None else await self._user_row_by_name(user.name)
        try:
            secret = _password_bytes(password)
        except InvalidPasswordError:
            return False
        return row is not None and await self._check(secret, row.password_hash.encode("ascii"))

    async def remove_user(self, user_id: str) -> None:
        """Delete a user and every token of theirs. Raises UnknownUserError, or InvalidRoleError
        for the last active owner.

        In one of many homes: the user leaves this home (their role and the tokens made here
        go); the user is deleted once they have no home left.
        """
        user = await self.get_user(user_id)
        if user is None:
            raise UnknownUserError(f"No user {user_id}")
        if user.is_owner:
            await self._keep_an_owner(user_id)
        await self.revoke_user_tokens(user_id)
        async with self._session_factory() as session, session.begin():
            await session.execute(delete(TOKENS).where(TOKENS.c.user_id == user_id))
            if self.shared is not None:
                await session.execute(delete(HOME_MEMBERS).where(HOME_MEMBERS.c.user_id == user_id,
                                                                 HOME_MEMBERS.c.home_id == self.scope.home_id))
        self._changed_user(user_id)
        if self.shared is None or not await self.shared.homes_of(user_id):
            async with self._session_factory() as session, session.begin():
                await session.execute(delete(USERS).where(USERS.c.id == user_id))
        self._users.pop(user_id, None)

    async def revoke_user_tokens(self, user_id: str, kinds: tuple[str, ...] | None = None) -> int:
        """Revoke every live token of a user (of these kinds); returns how many."""
        live = [t for t in await self.list_tokens(user_id) if t.revoked_at is None and (kinds is None or t.kind in kinds)]
        for token in live:
            await self.revoke_token(token.id)
        return len(live)

    async def _keep_an_owner(self, user_id: str) -> None:
        others = [u for u in await self.list_users() if u.is_owner and u.is_active and u.id != user_id]
        if not others:
            raise InvalidRoleError("The hub must keep an active owner: make another user owner first")

    # ---- tokens ----

    async def create_long_lived_token(
        self, user_id: str, label: str, lifespan_days: float | None = 3650
    ) -> str:
        """A new long-lived access token for the user; returns the raw token (shown only now).

        `lifespan_days=None` makes a token that never expires.
        """
        raw, _ = await self._create_token(user_id, TOKEN_LONG_LIVED, label, lifespan_days, None)
        return raw

    async def validate_token(self, raw: str) -> tuple[User, TokenInfo] | None:
        """The user and token for a raw token, if it is known, not revoked, not expired and its
        user is active; records the use in `last_used_at`. Else None."""
        if not isinstance(raw, str) or not raw:
            return None
        digest = hash_token(raw)
        now = self.clock.utcnow()
        async with self._session_factory() as session:
            row = (
                await session.execute(
                    select(*_TOKEN_COLUMNS, *_USER_COLUMNS)
                    .join_from(TOKENS, USERS, TOKENS.c.user_id == USERS.c.id)
                    .where(TOKENS.c.token_hash == digest)
                )
            ).first()
        if row is None:
            # Made in another home of this process: that home checks it (the caller checks the role here).
            other = await self._token_store(digest)
            return None if other is self else await other.validate_token(raw)
        token = TokenInfo(*row[: len(_TOKEN_COLUMNS)])
        user = User(*row[len(_TOKEN_COLUMNS) :])
        if not token.is_valid(now) or not user.is_active:
            return None
        # Bookkeeping in a transaction of its own: in the read's transaction, SQLite refuses the
        # upgrade to a write at once ("database is locked") when another connection wrote since
        # (the audit log writer, under load), and a valid token must not fail over that.
        try:
            async with self._session_factory() as session, session.begin():
                await session.execute(update(TOKENS).where(TOKENS.c.id == token.id).values(last_used_at=now))
        except SQLAlchemyError as err:
            _LOGGER.warning("Could not record the use of token %s: %s", token.id, str(err).splitlines()[0])
        return user, replace(token, last_used_at=now)

    async def list_tokens(self, user_id: str) -> list[TokenInfo]:
        """Every token of the user, revoked and expired ones included, oldest first."""
        async with self._session_factory() as session:
            rows = (
                await session.execute(
                    select(*_TOKEN_COLUMNS)
                    .where(TOKENS.c.user_id == user_id)
                    .order_by(TOKENS.c.created_at, TOKENS.c.id)
                )
            ).all()
        return [TokenInfo(*row) for row in rows]

    async def revoke_token(self, token_id: str) -> bool:
        """Revoke a token at once; False if there is no such token or it was already revoked.

        A refresh token stands for its login session: revoking it ends the whole session
        (its family), and with it the session's access tokens.
        """
        async with self._session_factory() as session, session.begin():
            row = (await session.execute(
                select(TOKENS.c.kind, TOKENS.c.family_id).where(TOKENS.c.id == token_id, TOKENS.c.revoked_at.is_(None))
            )).first()
            if row is None:
                return False
            await session.execute(
                update(TOKENS).where(TOKENS.c.id == token_id, TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=self.clock.utcnow())
            )
        if row.kind == TOKEN_REFRESH and row.family_id is not None:
            await self.revoke_family(row.family_id)
        else:
            await self.revocations.revoke(KIND_TOKEN, token_id)
        return True

    async def create_refresh_token(
        self, user_id: str, family_id: str | None = None, lifespan_days: float = 30
    ) -> tuple[str, TokenInfo]:
        """A new refresh token (raw, shown once) in a new family unless family_id is given."""
        return await self._create_token(
            user_id, TOKEN_REFRESH, None, lifespan_days, family_id or new_ulid()
        )

    async def validate_refresh_token(self, raw: str) -> tuple[User, TokenInfo]:
        """Return the user and refresh token without rotating it (to end its session).

        Raises:
            RefreshTokenReuseError: the token was rotated already; its family is now revoked.
            RefreshTokenError: unknown, expired or revoked token, or inactive user.
        """
        owner = await self._refresh_store(raw)
        if owner is not self:  # made in another home: ended there
            return await owner.validate_refresh_token(raw)
        user, token = await self._refresh_row(raw)
        return user, token

    async def rotate_refresh_token(self, raw: str) -> tuple[User, str, TokenInfo]:
        """Spend a refresh token and return its successor in the same family.

        Returns:
            The user, the new raw refresh token and its info.

        Raises:
            RefreshTokenReuseError: the token was already spent (stolen or replayed): every
                token of its family is revoked, so the thief and the owner both log in again.
            RefreshTokenError: unknown or expired token, or inactive user.
        """
        owner = await self._refresh_store(raw)
        if owner is not self:  # made in another home: its successor is made there too
            return await owner.rotate_refresh_token(raw)
        user, token = await self._refresh_row(raw)
        now = self.clock.utcnow()
        lifespan = None
        if token.expires_at is not None:  # the successor lives as long as its predecessor was given
            lifespan = (token.expires_at - token.created_at).total_seconds() / 86400
        new_raw, new_token = self._new_token(user.id, TOKEN_REFRESH, token.label, lifespan, token.family_id)
        async with self._session_factory() as session, session.begin():
            # Spend and replace in one transaction: the session is never without a live token.
            spent = await session.execute(
                update(TOKENS)
                .where(TOKENS.c.id == token.id, TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=now, last_used_at=now)
            )
            if spent.rowcount:  # type: ignore[attr-defined]  # a DML result is a CursorResult
                await session.execute(insert(TOKENS).values(
                    token_hash=hash_token(new_raw), **{name: getattr(new_token, name) for name in TokenInfo.__slots__}
                ))
        if not spent.rowcount:  # type: ignore[attr-defined]  # a concurrent rotation won
            await self.revoke_family(token.family_id)
            self.audit.record(user, "refresh_token_reuse", token.family_id, "session_revoked")
            raise RefreshTokenReuseError("Refresh token was already used; its session is revoked")
        return user, new_raw, new_token

    async def revoke_family(self, family_id: str | None) -> int:
        """End a login session: revoke every live token of the family and its access tokens.

        Returns:
            How many refresh tokens were still live.
        """
        if family_id is None:
            return 0
        await self.revocations.revoke(KIND_SESSION, family_id)  # in memory first: effective at once
        async with self._session_factory() as session, session.begin():
            result = await session.execute(
                update(TOKENS)
                .where(TOKENS.c.family_id == family_id, TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=self.clock.utcnow())
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _refresh_row(self, raw: str) -> tuple[User, TokenInfo]:
        if not isinstance(raw, str) or not raw:
            raise RefreshTokenError("Invalid refresh token")
        async with self._session_factory() as session:
            row = (
                await session.execute(
                    select(*_TOKEN_COLUMNS, *_USER_COLUMNS)
                    .join_from(TOKENS, USERS, TOKENS.c.user_id == USERS.c.id)
                    .where(TOKENS.c.token_hash == hash_token(raw), TOKENS.c.kind == TOKEN_REFRESH)
                )
            ).first()
        if row is None:
            raise RefreshTokenError("Invalid refresh token")
        token = TokenInfo(*row[: len(_TOKEN_COLUMNS)])
        user = User(*row[len(_TOKEN_COLUMNS) :])
        if token.revoked_at is not None:
            revoked = await self.revoke_family(token.family_id)
            self.audit.record(user, "refresh_token_reuse", token.family_id, "session_revoked")
            message = f"Refresh token was already used; its session is revoked ({revoked} tokens)"
            raise RefreshTokenReuseError(message)
        if not token.is_valid(self.clock.utcnow()) or not user.is_active or self.revocations.is_revoked(token.family_id):
            raise RefreshTokenError("Invalid refresh token")
        return user, token

    async def _token_store(self, digest: str) -> AuthStore:
        """The store of the home a token was made in: this one, unless another home of the process's."""
        if self.shared is None:
            return self
        return await self.shared.store_of_token(digest) or self

    async def _refresh_store(self, raw: str) -> AuthStore:
        if self.shared is None or not isinstance(raw, str) or not raw:
            return self
        return await self._token_store(hash_token(raw))

    async def _name_taken(self, name: str) -> bool:
        """Whether a user has this name (in any tenant: user names are unique in the process)."""
        if self.shared is not None:
            return await self.shared.find_login(name) is not None
        return await self._user_row_by_name(name) is not None

    # ---- internals ----

    async def _create_token(
        self,
        user_id: str,
        kind: str,
        label: str | None,
        lifespan_days: float | None,
        family_id: str | None,
    ) -> tuple[str, TokenInfo]:
        raw, token = self._new_token(user_id, kind, label, lifespan_days, family_id)
        try:
            async with self._session_factory() as session, session.begin():
                exists = (
                    await session.execute(select(USERS.c.id).where(USERS.c.id == user_id))
                ).first()
                if exists is None:
                    raise UnknownUserError(f"User {user_id} not found")
                await session.execute(
                    insert(TOKENS).values(
                        token_hash=hash_token(raw),
                        **{name: getattr(token, name) for name in TokenInfo.__slots__},
                    )
                )
        except IntegrityError as err:  # the user was removed meanwhile
            raise UnknownUserError(f"User {user_id} not found") from err
        return raw, token

    def _new_token(
        self, user_id: str, kind: str, label: str | None, lifespan_days: float | None, family_id: str | None
    ) -> tuple[str, TokenInfo]:
        if lifespan_days is not None and lifespan_days <= 0:
            raise AuthError("A token's lifespan must be positive")
        if label is not None and len(label) > NAME_LENGTH:
            raise AuthError(f"A token label must be at most {NAME_LENGTH} characters")
        raw = secrets.token_urlsafe(32)
        now = self.clock.utcnow()
        token = TokenInfo(
            id=new_ulid(),
            user_id=user_id,
            kind=kind,
            label=label,
            family_id=family_id,
            created_at=now,
            expires_at=None if lifespan_days is None else now + timedelta(days=lifespan_days),
            last_used_at=None,
            revoked_at=None,
        )
        return raw, token

    async def _user_row_by_name(self, name: str) -> Any:
        """The user (a member of this home, when one of many) of that name, with the password hash."""
        async with self._session_factory() as session:
            return (
                await session.execute(self._select_users(USERS.c.password_hash).where(USERS.c.name == name))
            ).first()

    async def _hash(self, secret: bytes) -> str:
        # bcrypt is deliberately slow (~0.2 s): run it off the event loop so it keeps serving.
        loop = asyncio.get_running_loop()
        hashed = await loop.run_in_executor(None, bcrypt.hashpw, secret, bcrypt.gensalt(self._rounds))
        return hashed.decode("ascii")

    async def _check(self, secret: bytes, hashed: bytes) -> bool:
        # Same as _hash: a bcrypt check would block the event loop for its whole duration.
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, bcrypt.checkpw, secret, hashed)
        except ValueError:  # a malformed stored hash
            return False

    async def _get_dummy_hash(self) -> bytes:
        if self._dummy_hash is None:
            self._dummy_hash = (await self._hash(secrets.token_bytes(16).hex().encode())).encode()
        return self._dummy_hash


__all__ = [
    "AuthError",
    "InvalidCredentialsError",
    "LoginLockedError",
    "RefreshTokenError",
    "RefreshTokenReuseError",
    "AuthStore",
    "InvalidPasswordError",
    "InvalidRoleError",
    "ROLE_ADMIN",
    "ROLE_OWNER",
    "ROLE_READ_ONLY",
    "ROLE_USER",
    "TOKEN_LONG_LIVED",
    "TOKEN_REFRESH",
    "TokenInfo",
    "UnknownUserError",
    "User",
    "UserExistsError",
    "hash_token",
]
