"""`hub tenant|home add|list|remove` and `hub db grant-app-role`: tenants and homes from the shell.

They act as the tables' owner (`storage: migrate_url`, else `storage: db_url`): the role that
may administer every tenant. A single-home install never needs them.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the parser is built for every `hub` command: no database imports for it
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.tenancy.store import Home, TenancyStore

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
    for verb, text in (("suspend", "stop serving a tenant's homes (a running hub stops them; their data stays)"),
                       ("resume", "serve a suspended tenant's homes again (a running hub starts them)")):
        status = tenants.add_parser(verb, help=text)
        location(status)
        status.add_argument("name")
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

    config = load_configuration(args.config)
    plans = plans_from_config(config.get("plans"))
    if args.command == "home" and args.home_command == "add" and not args.topic_root and config.get("homes"):
        from hub.tenancy.store import TenancyError

        message = ("a home of a hub of many homes needs an MQTT topic root of its own: pass --topic-root, "
                   f"e.g. --topic-root {args.name.lower().replace(' ', '-')}/")
        raise TenancyError(message)
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
    if args.tenant_command in ("suspend", "resume"):
        tenant = await store.set_status(args.name, "suspended" if args.tenant_command == "suspend" else "active")
        print(f"Tenant {tenant.name} is {tenant.status}: a running hub {'stops' if tenant.status != 'active' else 'starts'} "
              "its homes within seconds.")
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
        print(f"Added home {home.name} to tenant {args.tenant}, id {home.id}; a running hub serves it within seconds.")
        return 0
    if args.home_command == "remove":
        home = await store.remove_home(args.tenant, args.name, force=args.force)
        print(f"Removed home {home.name} and every row it owned; a running hub stops serving it within seconds.")
        return 0
    homes = await store.homes(args.tenant)
    names = {t.id: t.name for t in await store.tenants()}
    print(f"{'TENANT':<16}  {'NAME':<20}  {'TOPIC ROOT':<12}  {'TIME ZONE':<20}  {'CUR':<3}  ID")
    for home in homes:
        tenant = names.get(home.tenant_id, home.tenant_id)
        print(f"{tenant:<16}  {home.name:<20}  {home.topic_root or '-':<12}  {home.time_zone:<20}  "
              f"{home.currency:<3}  {home.id}")
    return 0


async def served_homes(engine: AsyncEngine, config: Mapping[str, Any], tenant: str | None = None) -> list[Home]:
    """The homes of a hub of many homes that `--home` may name: every home of the tenancy store
    (of `tenant`, a name or id, when given), the built-in default home only when `homes:` lists it."""
    from hub.core.scope import DEFAULT_HOME_ID
    from hub.tenancy.store import TenancyStore

    listed = {listed.get("id") for listed in config.get("homes") or () if isinstance(listed, Mapping)}
    return [h for h in await TenancyStore(engine).homes(tenant) if h.id != DEFAULT_HOME_ID or h.id in listed]


def check_single_home(config: Mapping[str, Any], home: str | None, tenant: str | None = None) -> bool:
    """Return True for a hub of one home (no `homes:`), where no command takes `--home`.

    Raises:
        TenancyError: --home or --tenant was given to a hub of one home.
    """
    from hub.tenancy.store import TenancyError

    if config.get("homes") is not None:
        return False
    if home is not None or tenant is not None:
        given = f"--home {home}" if home is not None else f"--tenant {tenant}"
        raise TenancyError(f"{given}: this hub serves one home (no `homes:` section); leave it out")
    return True


async def resolve_home(engine: AsyncEngine, config: Mapping[str, Any], home: str | None,
                       tenant: str | None = None) -> Home | None:
    """The home a command that acts in one home works in: what `--home` names, for every command.

    A hub of one home (no `homes:`): None (the default home), and --home is refused. A hub of
    many homes: the home of the tenancy store (`hub home add` or `homes:`) with that id, else
    the one with that name; `tenant` (a name or id) narrows the search to its homes. The
    built-in default home counts only when `homes:` lists it, as for the homes served.

    Raises:
        TenancyError: --home missing, naming no home, or a name several homes have; the
            message lists the homes by id (name, tenant).
    """
    from hub.tenancy.store import TenancyError, TenancyStore

    if check_single_home(config, home, tenant):
        return None
    tenants = {tenant.id: tenant.name for tenant in await TenancyStore(engine).tenants()}
    homes = await served_homes(engine, config, tenant)
    matches = [h for h in homes if h.id == home] or [h for h in homes if h.name == home]
    if home is not None and len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{h.id} ({h.name}, {tenants.get(h.tenant_id, h.tenant_id)})" for h in homes) or "none"
    whose = f"tenant {tenant}'s homes" if tenant is not None else "homes"
    if home is None:
        message = f"this hub serves many homes: name one with --home ({whose}: {known})"
    elif matches:
        message = f"--home {home}: more than one home has that name; give its id ({whose}: {known})"
    else:
        message = f"--home {home}: no such home ({whose}: {known})"
    raise TenancyError(message)


__all__ = ["add_parsers", "check_single_home", "resolve_home", "run", "served_homes"]
