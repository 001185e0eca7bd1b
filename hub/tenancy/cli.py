"""`hub tenant|home add|list|remove` and `hub db grant-app-role`: tenants and homes from the shell.

They act as the tables' owner (`storage: migrate_url`, else `storage: db_url`): the role that
may administer every tenant. A single-home install never needs them.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the parser is built for every `hub` command: no database imports for it
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.tenancy.store import TenancyStore

OpenEngine = Callable[[argparse.Namespace], Awaitable["AsyncEngine"]]
Location = Callable[[argparse.ArgumentParser], None]


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser], location: Location) -> None:
    """Add the `tenant`, `home` and `db` commands to the `hub` parser."""
    tenant = commands.add_parser("tenant", help="tenants: customers that own homes and users (many homes)")
    tenants = tenant.add_subparsers(dest="tenant_command", required=True)
    add = tenants.add_parser("add", help="add a tenant")
    location(add)
    add.add_argument("name")
    add.add_argument("--plan", default=None, help="its plan: free, starter, professional, industrial or one of "
                     "the configuration's `plans:` (default: none)")
    add.add_argument("--trial-days", type=int, default=None, help="days of trial from now (default: no trial)")
    location(tenants.add_parser("list", help="list the tenants: name, plan, status, homes"))
    remove = tenants.add_parser("remove", help="remove a tenant and its users (refused while it has homes)")
    location(remove)
    remove.add_argument("name")
    remove.add_argument("--force", action="store_true", help="also remove its homes with every row they own")

    home = commands.add_parser("home", help="homes of tenants: each is served by its own hub core")
    homes = home.add_subparsers(dest="home_command", required=True)
    add = homes.add_parser("add", help="add a home to a tenant")
    location(add)
    add.add_argument("name")
    add.add_argument("--tenant", required=True, help="the tenant's name or id")
    add.add_argument("--topic-root", default="", help='the MQTT topic root of its devices, e.g. "home1/" (default: "")')
    add.add_argument("--time-zone", default="UTC", help="IANA time zone (default: UTC)")
    add.add_argument("--currency", default="EUR", help="ISO 4217 currency code (default: EUR)")
    listing = homes.add_parser("list", help="list the homes: tenant, name, id, topic root, time zone, currency")
    location(listing)
    listing.add_argument("--tenant", default=None, help="only this tenant's homes")
    remove = homes.add_parser("remove", help="remove a home (refused while it has devices)")
    location(remove)
    remove.add_argument("name")
    remove.add_argument("--tenant", required=True, help="the tenant's name or id")
    remove.add_argument("--force", action="store_true", help="also remove its devices and every row it owns")

    db = commands.add_parser("db", help="the metadata database").add_subparsers(dest="db_command", required=True)
    grant = db.add_parser(
        "grant-app-role",
        help="grant an existing PostgreSQL role what the hub needs to serve homes as (run as the owner)",
    )
    location(grant)
    grant.add_argument("role")


async def run(args: argparse.Namespace, open_engine: OpenEngine) -> int:
    """Run a `tenant`, `home` or `db` command; its errors are TenancyError/RlsRoleError (HubError)."""
    from hub.config import load_configuration
    from hub.storage.rls import grant_app_role
    from hub.tenancy.plans import plans_from_config
    from hub.tenancy.store import TenancyStore

    plans = plans_from_config(load_configuration(args.config).get("plans"))
    engine = await open_engine(args)
    try:
        store = TenancyStore(engine, plans)
        if args.command == "db":
            for statement in await grant_app_role(engine, args.role):
                print(f"{statement};")
            print(f"Granted {args.role}; set storage: db_url to connect as it, storage: migrate_url as the owner.")
            return 0
        if args.command == "tenant":
            return await _tenant(args, store)
        return await _home(args, store)
    finally:
        await engine.dispose()


async def _tenant(args: argparse.Namespace, store: TenancyStore) -> int:
    if args.tenant_command == "add":
        trial = None
        if args.trial_days is not None:
            trial = datetime.now(UTC) + timedelta(days=args.trial_days)
        tenant = await store.add_tenant(args.name, args.plan, trial_ends_at=trial)
        print(f"Added tenant {tenant.name} ({tenant.plan or 'no plan'}), id {tenant.id}.")
        return 0
    if args.tenant_command == "remove":
        tenant = await store.remove_tenant(args.name, force=args.force)
        print(f"Removed tenant {tenant.name}.")
        return 0
    tenants = await store.tenants()
    homes = await store.homes()
    width = max(len(t.name) for t in tenants) if tenants else 4
    print(f"{'NAME':<{width}}  {'PLAN':<12}  {'STATUS':<9}  {'HOMES':>5}  {'TRIAL ENDS':<10}  ID")
    for tenant in tenants:
        count = sum(1 for h in homes if h.tenant_id == tenant.id)
        ends = f"{tenant.trial_ends_at:%Y-%m-%d}" if tenant.trial_ends_at else "-"
        print(f"{tenant.name:<{width}}  {tenant.plan or '-':<12}  {tenant.status:<9}  {count:>5}  {ends:<10}  {tenant.id}")
    return 0


async def _home(args: argparse.Namespace, store: TenancyStore) -> int:
    if args.home_command == "add":
        home = await store.add_home(
            args.tenant, args.name, topic_root=args.topic_root, time_zone=args.time_zone, currency=args.currency
        )
        print(f"Added home {home.name} to tenant {args.tenant}, id {home.id}.")
        return 0
    if args.home_command == "remove":
        home = await store.remove_home(args.tenant, args.name, force=args.force)
        print(f"Removed home {home.name} and every row it owned.")
        return 0
    homes = await store.homes(args.tenant)
    names = {t.id: t.name for t in await store.tenants()}
    print(f"{'TENANT':<16}  {'NAME':<20}  {'TOPIC ROOT':<12}  {'TIME ZONE':<20}  {'CUR':<3}  ID")
    for home in homes:
        tenant = names.get(home.tenant_id, home.tenant_id)
        print(f"{tenant:<16}  {home.name:<20}  {home.topic_root or '-':<12}  {home.time_zone:<20}  "
              f"{home.currency:<3}  {home.id}")
    return 0


__all__ = ["add_parsers", "run"]
