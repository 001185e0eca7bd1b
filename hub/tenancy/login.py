"""What a login and a token lookup need before any tenant is known, and nothing more.

Usernames are unique in the whole process, so a login names one user; which tenant and homes
it may act in follows from that user. Row-level security is not opened for this: on
PostgreSQL the lookups go through `SECURITY DEFINER` functions (migration 0009) that return the
rows of one username or one token hash only. SQLite serves one home and reads the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.core.scope import HomeScope
from hub.storage.models import TokenRow, UserRow, table_of

USERS = table_of(UserRow)
TOKENS = table_of(TokenRow)


@dataclass(frozen=True, slots=True)
class LoginUser:
    """The user a login names: enough to check the password and find their tenant."""

    id: str
    name: str
    password_hash: str
    role: str
    is_active: bool
    tenant_id: str


async def find_login(engine: AsyncEngine, name: str) -> LoginUser | None:
    """The user named `name` in any tenant, or None."""
    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            result = await connection.execute(
                text("SELECT id, name, password_hash, role, is_active, tenant_id FROM hub_login_user(:n)"),
                {"n": name},
            )
        else:
            result = await connection.execute(
                select(USERS.c.id, USERS.c.name, USERS.c.password_hash, USERS.c.role, USERS.c.is_active,
                       USERS.c.tenant_id).where(USERS.c.name == name)
            )
        row = result.first()
    return None if row is None else LoginUser(*row)


async def token_scope(engine: AsyncEngine, token_hash: str) -> tuple[HomeScope, str] | None:
    """The home a stored token (by its SHA-256 hex digest) was made in, and its user id; or None."""
    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            result = await connection.execute(
                text("SELECT tenant_id, home_id, user_id FROM hub_token_scope(:h)"), {"h": token_hash}
            )
        else:
            result = await connection.execute(
                select(TOKENS.c.tenant_id, TOKENS.c.home_id, TOKENS.c.user_id).where(TOKENS.c.token_hash == token_hash)
            )
        row = result.first()
    return None if row is None else (HomeScope(row[0], row[1]), row[2])


__all__ = ["LoginUser", "find_login", "token_scope"]
