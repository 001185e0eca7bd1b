"""How a `hub` command run from the shell opens the hub's database: as the tables' owner, in the
home `--home` names, on the user a command names; and the homes the device commands work in."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.auth.store import AuthStore
    from hub.homes.record import HomeRecord
    from hub.tenancy.store import Home
    from hub.tenancy.users import TenantUser


async def open_admin(args: argparse.Namespace) -> AsyncEngine:
    """Open the hub's database as its owner (`storage: migrate_url`, else `db_url`), migrated."""
    from hub.bootstrap import database_url, migration_url
    from hub.config import load_configuration
    from hub.storage.engine import create_engine, migrate
    from hub.storage.private_files import prepare_data_dir

    config = load_configuration(args.config)
    data_dir = data_dir_of(args)
    prepare_data_dir(data_dir)
    engine = create_engine(migration_url(config) or database_url(config, data_dir))
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


async def open_default(args: argparse.Namespace) -> tuple[AsyncEngine, AuthStore]:
    """Open the hub's database for a maintenance command (migrating it if needed), in the default home."""
    from hub.auth.store import AuthStore
    from hub.core.scope import DEFAULT_SCOPE
    from hub.storage.scoped import scoped_sessions

    engine = await open_admin(args)
    return engine, AuthStore(scoped_sessions(engine, DEFAULT_SCOPE))


async def open_home(args: argparse.Namespace) -> tuple[AsyncEngine, AuthStore]:
    """Open the database for a command that acts in one home: the home `--home` names in a hub of
    many homes (required there: the error lists the homes), else the default home."""
    engine, home = await open_in_home(args)
    return engine, auth_in(engine, home)


async def open_in_home(args: argparse.Namespace) -> tuple[AsyncEngine, Home | None]:
    """Open the database as the owner and resolve `--home` (and `--tenant`) over the tenancy store."""
    from hub.config import load_configuration
    from hub.tenancy.cli import resolve_home

    config = load_configuration(args.config)
    engine = await open_admin(args)
    try:
        home = await resolve_home(engine, config, getattr(args, "home", None), getattr(args, "tenant", None))
    except BaseException:
        await engine.dispose()
        raise
    return engine, home


async def open_user(args: argparse.Namespace) -> tuple[AsyncEngine, TenantUser | None, Home | None]:
    """Open the database for a command on one user: in a hub of many homes, the user of that name
    (checked against --tenant and --home) and the home --home names; (None, None) in a hub of one home."""
    from hub.config import load_configuration
    from hub.tenancy.cli import check_single_home, resolve_home
    from hub.tenancy.users import tenant_user

    config = load_configuration(args.config)
    single = check_single_home(config, args.home, args.tenant)
    engine = await open_admin(args)
    if single:
        return engine, None, None
    try:
        home = await resolve_home(engine, config, args.home, args.tenant) if args.home is not None else None
        return engine, await tenant_user(engine, args.name, args.tenant, home), home
    except BaseException:
        await engine.dispose()
        raise


@asynccontextmanager
async def members_of(args: argparse.Namespace) -> AsyncIterator[tuple[AuthStore, Home | None]]:
    """Open the database in the home `--home` names and yield its auth store (members_in) and the
    home; the engine is disposed on the way out."""
    engine, home = await open_in_home(args)
    try:
        yield members_in(engine, home), home
    finally:
        await engine.dispose()


def members_in(engine: AsyncEngine, home: Home | None) -> AuthStore:
    """The auth store a command acts in: the home's (its members with their role there, the tokens
    made there) in a hub of many homes, else the hub's."""
    from hub.tenancy.users import home_auth

    return auth_in(engine, None) if home is None else home_auth(engine, home)


def auth_in(engine: AsyncEngine, home: Home | None) -> AuthStore:
    from hub.auth.store import AuthStore
    from hub.core.scope import DEFAULT_SCOPE
    from hub.storage.scoped import scoped_sessions

    return AuthStore(scoped_sessions(engine, DEFAULT_SCOPE if home is None else home.scope))


async def device_home(args: argparse.Namespace) -> HomeRecord | None:
    """The home `hub device ... --home` works in (None: a hub of one home); the database is read
    only in a hub of many homes, where the homes are."""
    from hub.config import load_configuration
    from hub.tenancy.cli import check_single_home

    # Devices may be added before there is a configuration.yaml (the broker's defaults): one home.
    exists = (args.config / "configuration.yaml").exists()
    if check_single_home(load_configuration(args.config) if exists else {}, getattr(args, "home", None)):
        return None
    engine, home = await open_in_home(args)
    await engine.dispose()
    assert home is not None  # a hub of many homes: resolved, or an error
    return _record(home)


async def acl_homes(args: argparse.Namespace) -> list[HomeRecord] | None:
    """The homes whose devices `hub mqtt export-acl` writes: the one --home names, else every home
    (the broker is all of theirs); None in a hub of one home."""
    from hub.config import load_configuration
    from hub.tenancy.cli import check_single_home, resolve_home, served_homes

    exists = (args.config / "configuration.yaml").exists()
    config = load_configuration(args.config) if exists else {}
    if check_single_home(config, args.home, args.tenant):
        return None
    engine = await open_admin(args)
    try:
        one = await resolve_home(engine, config, args.home, args.tenant) if args.home is not None else None
        homes = [one] if one is not None else await served_homes(engine, config, args.tenant)
    finally:
        await engine.dispose()
    return [_record(home) for home in homes]


def _record(home: Home) -> HomeRecord:
    from hub.homes.record import HomeRecord

    return HomeRecord(home.scope, home.name, home.topic_root, home.time_zone, home.currency)


def data_dir_of(args: argparse.Namespace) -> Path:
    """Return the data directory a command names: --data, else <config>/.storage."""
    return Path(args.data or args.config / ".storage").resolve()
