"""A PostgreSQL database as a many-homes install has it: an owner, an application role, two
tenants with two homes each, and one row of every home-owned table in every home."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.core.scope import HomeScope
from hub.storage.engine import create_engine, migrate
from hub.storage.models import UserRow, table_of
from hub.storage.rls import grant_app_role
from hub.storage.scoped import scoped_sessions
from hub.tenancy.store import TenancyStore
from tests.pg_roles import make_app_role, make_roles
from tests.storage import legacy
from tests.storage.conftest import BUILTIN_MIGRATIONS, all_metadata

WHEN = legacy.WHEN


def home_owned_tables() -> dict[str, Table]:
    """Every table of the core and the built-in integrations that holds a home's rows."""
    return {
        name: table
        for metadata in all_metadata()
        for name, table in metadata.tables.items()
        if "home_id" in table.c and name != "home_members"
    }


def row_for(table: str, home: str) -> dict[str, Any]:
    """One row of `table` for a home: natural keys the same in every home, global ids not."""
    rows: dict[str, dict[str, Any]] = {
        **legacy.ROWS,
        "areas": {"id": "garage", "name": "Garage", "normalized_name": "garage", "aliases": [], "labels": [],
                  "created_at": WHEN, "modified_at": WHEN},
        "tokens": {"id": "token-1", "user_id": "user-1", "kind": "long_lived", "token_hash": "t" * 60,
                   "created_at": WHEN},
    }
    row = dict(rows[table])
    for key in ("id", "user_id", "device_id"):
        if key in row and table != "areas":  # an area's id is its natural key
            row[key] = f"{row[key]}-{home}"
    for key in ("key_hash", "token_hash"):  # unique in the whole database
        if key in row:
            row[key] = hashlib.sha256(f"{table}/{home}".encode()).hexdigest()
    if table == "entities":
        row["area_id"] = "garage"
    return row


@pytest.fixture
async def app_url(pg_url: str) -> str:
    """A fresh database and an application role: the tables' owner, not superuser, not exempt from RLS."""
    return await make_app_role(pg_url)


@dataclass
class RlsDatabase:
    """URLs of the three roles, the engines of owner and application, and the four homes."""

    superuser_url: str
    owner_url: str
    app_url: str
    owner_role: str
    app_role: str
    owner: AsyncEngine
    app: AsyncEngine
    homes: dict[str, HomeScope] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # tenant name -> user id


@pytest.fixture
async def rls_db(pg_url: str) -> AsyncIterator[RlsDatabase]:
    roles = await make_roles(pg_url)
    owner_role, app_role = roles.owner_role, roles.app_role
    owner = create_engine(roles.owner_url)
    app = create_engine(roles.app_url)
    db = RlsDatabase(pg_url, roles.owner_url, roles.app_url, owner_role, app_role, owner, app)
    try:
        await migrate(owner, BUILTIN_MIGRATIONS)
        await grant_app_role(owner, app_role)
        store = TenancyStore(owner)
        for tenant in ("acme", "globex"):
            await store.add_tenant(tenant, "starter")
            for number in (1, 2):
                home = await store.add_home(tenant, f"{tenant}-home{number}", topic_root=f"{tenant}{number}/")
                db.homes[home.name] = home.scope
        tables = home_owned_tables()
        for name, scope in db.homes.items():
            sessions = scoped_sessions(app, scope)
            async with sessions() as session, session.begin():
                if name.endswith("home1"):  # one user per tenant, made in its first home
                    user = {**legacy.ROWS["users"], "id": f"user-1-{name}", "name": f"alice-{name}"}
                    await session.execute(insert(table_of(UserRow)), [user])
                    db.users[scope.tenant_id] = user["id"]
                for table_name in ("areas", "devices", *sorted(set(tables) - {"areas", "devices"})):
                    row = row_for(table_name, name)
                    if "user_id" in row and table_name == "tokens":
                        row["user_id"] = db.users[scope.tenant_id]
                    await session.execute(insert(tables[table_name]), [row])
        yield db
    finally:
        await owner.dispose()
        await app.dispose()
