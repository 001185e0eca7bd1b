"""The roles of a PostgreSQL database as a many-homes install has them: the tables' owner, which
migrates, and an application role, which serves and which row-level security binds."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url

from hub.storage.engine import create_engine


@dataclass(frozen=True, slots=True)
class Roles:
    """A database's owner and application role, each with its URL."""

    owner_url: str
    app_url: str
    owner_role: str
    app_role: str

    def storage_yaml(self) -> str:
        """The `storage:` section: serve as the application role, migrate as the owner."""
        return f"storage:\n  db_url: {self.app_url}\n  migrate_url: {self.owner_url}\n"


def as_role(url: str, role: str) -> str:
    """The URL with another user name (the roles log in without a password on the test server)."""
    return make_url(url).set(username=role).render_as_string(hide_password=False)


async def make_roles(pg_url: str) -> Roles:
    """Make an owner role (of the database and its schema) and an application role; superuser's pg_url."""
    suffix = secrets.token_hex(4)
    owner_role, app_role = f"hub_owner_{suffix}", f"hub_app_{suffix}"
    superuser = create_engine(pg_url)
    try:
        async with superuser.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            for statement in (
                f'CREATE ROLE "{owner_role}" LOGIN NOSUPERUSER NOBYPASSRLS',
                f'CREATE ROLE "{app_role}" LOGIN NOSUPERUSER NOBYPASSRLS',
                f'ALTER DATABASE "{make_url(pg_url).database}" OWNER TO "{owner_role}"',
                f'ALTER SCHEMA public OWNER TO "{owner_role}"',
            ):
                await connection.exec_driver_sql(statement)
    finally:
        await superuser.dispose()
    return Roles(as_role(pg_url, owner_role), as_role(pg_url, app_role), owner_role, app_role)


async def superuser(pg_url: str) -> asyncpg.Connection:
    """A plain asyncpg connection as the test server's superuser (pg_url is SQLAlchemy's)."""
    return await asyncpg.connect(pg_url.replace("+asyncpg", ""))


async def make_app_role(pg_url: str) -> str:
    """Make a role that may create (and so owns) its tables, neither superuser nor exempt from RLS; its URL."""
    role = f"hub_app_{uuid.uuid4().hex[:8]}"
    admin = await superuser(pg_url)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS")
        await admin.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}")
    finally:
        await admin.close()
    return pg_url.replace("postgres@", f"{role}@", 1)
