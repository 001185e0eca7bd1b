"""Short-lived JWT access tokens (HS256, 15 minutes), signed with a key kept in the database."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import jwt
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.core.clock import Clock
from hub.storage.models import table_of
from hub.storage.models_api import AuthKeyRow

KEYS = table_of(AuthKeyRow)
KEY_NAME = "jwt_hs256"
ACCESS_TOKEN_LIFETIME = 15 * 60  # seconds
ALGORITHM = "HS256"
ISSUER = "powerhub"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a valid access token says."""

    user_id: str
    family_id: str | None
    issued_at: float
    expires_at: float


def looks_like_jwt(token: str) -> bool:
    """Return whether a bearer token has a JWT's three dot-separated parts."""
    return token.count(".") == 2


class AccessTokens:
    """Issue and verify access tokens against the hub's clock (a test's ManualClock moves expiry)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        lifetime: int = ACCESS_TOKEN_LIFETIME,
    ) -> None:
        self._session_factory = session_factory
        self.clock = clock
        self.lifetime = lifetime
        self._secret: str | None = None
        self._lock = asyncio.Lock()

    async def _key(self) -> str:
        if self._secret is not None:
            return self._secret
        async with self._lock:
            if self._secret is None:
                self._secret = await self._load_or_create()
        return self._secret

    async def _load_or_create(self) -> str:
        query = select(KEYS.c.secret).where(KEYS.c.name == KEY_NAME)
        async with self._session_factory() as session:
            found = (await session.execute(query)).scalar_one_or_none()
        if found is not None:
            return str(found)
        secret = secrets.token_urlsafe(48)
        try:
            async with self._session_factory() as session, session.begin():
                await session.execute(
                    insert(KEYS).values(name=KEY_NAME, secret=secret, created_at=self.clock.utcnow())
                )
        except IntegrityError:  # another hub process sharing the database made it first
            async with self._session_factory() as session:
                return str((await session.execute(query)).scalar_one())
        return secret

    async def issue(self, user_id: str, family_id: str | None = None) -> str:
        """Return a signed access token for the user, valid for `lifetime` seconds."""
        now = int(self.clock.time())
        claims = {"iss": ISSUER, "sub": user_id, "iat": now, "exp": now + self.lifetime}
        if family_id is not None:
            claims["fam"] = family_id
        return jwt.encode(claims, await self._key(), algorithm=ALGORITHM)

    async def verify(self, token: str) -> AccessClaims | None:
        """Return the claims of a genuine, unexpired token, else None."""
        try:
            # Expiry is checked against our own clock below (pyjwt would use the wall clock).
            claims = jwt.decode(
                token,
                await self._key(),
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub", "iat"]},
            )
        except jwt.PyJWTError:
            return None
        expires = claims["exp"]
        if not isinstance(expires, int | float) or self.clock.time() >= expires:
            return None
        if not isinstance(claims["sub"], str):
            return None
        return AccessClaims(claims["sub"], claims.get("fam"), float(claims["iat"]), float(expires))
