"""`hub user add|list|passwd|remove|unlock`: the hub's users from the shell.

In a hub of many homes a user is their tenant's and has a role in some of its homes
(hub/tenancy/users.py); `--home` and `--tenant` name where a command acts.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from hub.cli_db import auth_in, members_of, open_in_home, open_user

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.auth.store import AuthStore
    from hub.tenancy.store import Home
    from hub.tenancy.users import TenantUser


async def run(args: argparse.Namespace) -> int:
    """Run a `hub user` command and return its exit code."""
    handlers = {"add": _user_add, "unlock": _user_unlock, "list": _user_list, "passwd": _user_passwd, "remove": _user_remove}
    return await handlers[args.user_command](args)


def _read_password(args: argparse.Namespace) -> str | None:
    """The new password from stdin or the terminal; None (with the reason printed) when there is none."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        print(
            f"error: no terminal to ask for the password of {args.name!r}: pass it on standard input "
            f"with --password-stdin, e.g. `printf '%s\\n' \"$PASSWORD\" | hub {args.command} "
            f"{args.user_command} {args.name} --password-stdin`",
            file=sys.stderr,
        )
        return None
    else:
        import getpass

        try:
            password = getpass.getpass(f"Password for {args.name}: ")
        except EOFError:
            print("error: no password given", file=sys.stderr)
            return None
    if len(password) < 8:
        print("error: the password must have at least 8 characters", file=sys.stderr)
        return None
    return password


async def _audited(auth: AuthStore, action: str, target: str) -> None:
    """Record a change made from the command line (the actor is the machine's user)."""
    import getpass

    auth.audit.record(None, action, target, "ok", "cli", user_name=f"cli:{getpass.getuser()}")
    await auth.audit.flush()


async def _user_add(args: argparse.Namespace) -> int:
    engine, home = await open_in_home(args)
    try:
        auth = auth_in(engine, home)
        existing = await auth.user_by_name(args.name) if home is not None else None
        if home is not None and existing is not None:
            # A user the tenant has already: a role in one more home.
            from hub.tenancy.store import TenancyStore

            await TenancyStore(engine).add_member(home, existing.id, args.role)
            await _audited(auth, "user add", f"{existing.name} ({args.role} in home {home.name})")
            print(f"{existing.name} now has the role {args.role} in home {home.name} ({home.id}).")
            return 0
        password = _read_password(args)
        if password is None:
            return 1
        user = await auth.add_user(args.name, password, args.role)
        await _audited(auth, "user add", f"{user.name} ({user.role})")
        where = ""
        if home is not None:
            from hub.tenancy.store import TenancyStore

            tenant = await TenancyStore(engine).tenant(home.tenant_id)
            where = f" in home {home.name} ({home.id}) of tenant {tenant.name}"
    finally:
        await engine.dispose()
    print(f"Added user {user.name} ({user.role}{where}).")
    return 0


async def _user_list(args: argparse.Namespace) -> int:
    async with members_of(args) as (auth, home):
        users = await auth.list_users()
    if home is not None:
        print(f"Users with a role in home {home.name} ({home.id}), and that role:")
    if not users:
        print("No users yet: open the web UI on this machine to create the owner, or run hub user add.")
        return 0
    width = max(len(u.name) for u in users)
    print(f"{'NAME':<{width}}  {'ROLE':<9}  {'ACTIVE':<6}  CREATED")
    for user in users:
        active = "yes" if user.is_active else "no"
        print(f"{user.name:<{width}}  {user.role:<9}  {active:<6}  {user.created_at:%Y-%m-%d %H:%M}")
    return 0


async def _user_passwd(args: argparse.Namespace) -> int:
    from hub.auth.store import TOKEN_REFRESH
    from hub.tenancy.users import home_auth, tenant_auth

    engine, found, _home = await open_user(args)  # --home and --tenant are checked before the password is asked
    try:
        password = _read_password(args)
        if password is None:
            return 1
        if found is None:
            auth = auth_in(engine, None)
            user = await auth.user_by_name(args.name)
            if user is None:
                print(f"error: no user named {args.name!r} (see hub user list)", file=sys.stderr)
                return 1
            await auth.set_password(user.id, password)
            await auth.throttle.unlock(user.name)
            await _audited(auth, "user passwd", user.name)
        else:
            # One password for every home of the tenant: the logins made in each of them end.
            stores = [home_auth(engine, home) for home, _role in found.homes]
            first = stores[0] if stores else tenant_auth(engine, found.user.tenant_id)
            await first.set_password(found.user.id, password)
            for store in stores[1:]:
                await store.revoke_user_tokens(found.user.id, kinds=(TOKEN_REFRESH,))
            await first.throttle.unlock(found.user.name)
            for store in stores:
                await _audited(store, "user passwd", found.user.name)
    finally:
        await engine.dispose()
    where = "" if found is None else f" in every home of tenant {found.tenant} ({found.where()})"
    print(f"New password set for {args.name}; their login sessions have ended{where}.")
    return 0


async def _user_remove(args: argparse.Namespace) -> int:
    from hub.auth.store import AuthError

    engine, found, home = await open_user(args)
    try:
        if found is not None:
            return await _user_remove_of_tenant(args, engine, found, home)
        auth = auth_in(engine, None)
        user = await auth.user_by_name(args.name)
        if user is None:
            print(f"error: no user named {args.name!r} (see hub user list)", file=sys.stderr)
            return 1
        try:
            await auth.remove_user(user.id)
        except AuthError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        await _audited(auth, "user remove", user.name)
    finally:
        await engine.dispose()
    print(f"Removed user {user.name} and their tokens.")
    return 0


async def _user_remove_of_tenant(args: argparse.Namespace, engine: AsyncEngine, found: TenantUser,
                                 home: Home | None) -> int:
    """`hub user remove` in a hub of many homes: leave --home, else leave the tenant (hub/tenancy/users.py)."""
    from hub.auth.store import AuthError
    from hub.tenancy.store import TenancyError
    from hub.tenancy.users import check_owners_stay, home_auth, remove_from_tenant

    name = found.user.name
    if home is not None:
        auth = home_auth(engine, home)
        try:
            await auth.remove_user(found.user.id)
        except AuthError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        await _audited(auth, "user remove", f"{name} (left home {home.name})")
        others = len(found.homes) - 1
        print(f"{name} left home {home.name} ({home.id}), with the tokens made there; "
              + (f"they keep their role in {others} other home(s)." if others else
                 f"it was their last home: removed the user from tenant {found.tenant}."))
        return 0
    if len(found.homes) > 1 and not args.all_homes:
        message = (f"{name} has a role in {len(found.homes)} homes ({found.where()}): name the one they leave with "
                   f"--home, or pass --all-homes to remove the user from tenant {found.tenant}")
        raise TenancyError(message)
    await check_owners_stay(engine, found)
    for each, _role in found.homes:  # written before the rows go: the audit row names the user
        await _audited(home_auth(engine, each), "user remove", f"{name} (removed from tenant {found.tenant})")
    await remove_from_tenant(engine, found)
    print(f"Removed user {name} from tenant {found.tenant}, with their tokens (their homes: {found.where()}).")
    return 0


async def _user_unlock(args: argparse.Namespace) -> int:
    engine, found, _home = await open_user(args)
    try:
        auth = auth_in(engine, None)  # failed logins are the process's: one count per name, in no home
        if found is None and await auth.user_by_name(args.name) is None:
            print(f"error: no user named {args.name!r}", file=sys.stderr)
            return 1
        cleared = await auth.throttle.unlock(args.name)
    finally:
        await engine.dispose()
    print(f"Unlocked {args.name}: cleared {cleared} failed-login counts; the next login is not held back.")
    return 0
