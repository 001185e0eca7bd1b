"""A tenant's users from the shell (`hub user|token ... --home`), in a hub of many homes.

A user is their tenant's: their name (unique in the process), password, active flag and failed
logins are one for every home. Their role is per home, and so are their tokens (a token acts in
the home it was made in). So the commands split:

- per home (`--home` required, as for every command that acts in one home): `user list` (the
  users with a role in the home, with that role), `token create|list|revoke` (the tokens made in
  the home), `user add` and `user remove NAME --home H` (the user leaves H: their role and the
  tokens made there go; the user goes once they have no home left);
- per user (the name says which, `--tenant`/`--home` only check it): `user passwd` (every home's
  logins end), `user unlock`, and `user remove NAME` without `--home`, which removes the user
  from the tenant, refused while they have a role in more than one home unless `--all-homes`
  says so: one home's admin must not remove a user from the others by leaving `--home` out.

A hub of one home has none of this: the commands work as they always did (hub/cli_users.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.storage.scoped import scoped_sessions
from hub.tenancy.store import Home, TenancyError, TenancyStore

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.auth.store import AuthStore
    from hub.tenancy.login import LoginUser


def home_auth(engine: AsyncEngine, home: Home) -> AuthStore:
    """The auth store of one home of many, as the running hub has it: its members with their role
    in it, the tokens made in it, its audit rows."""
    from hub.auth.shared import HomesAuth
    from hub.core.clock import SystemClock

    # The process-level tables (revocations, failed logins, bans) have no tenant: the default scope reads them.
    shared = HomesAuth(engine, scoped_sessions(engine, DEFAULT_SCOPE), SystemClock(), None, {})
    return shared.store(scoped_sessions(engine, home.scope))


def tenant_auth(engine: AsyncEngine, tenant_id: str) -> AuthStore:
    """A store over the tenant's users alone, for a user who has no home left."""
    from hub.auth.store import AuthStore

    return AuthStore(scoped_sessions(engine, HomeScope(tenant_id, "")))


@dataclass(frozen=True, slots=True)
class TenantUser:
    """A user named on the command line: who, whose, and their homes with their role in each."""

    user: LoginUser
    tenant: str  # the tenant's name
    homes: list[tuple[Home, str]]

    def where(self) -> str:
        """Their homes for a message: `flat-a (Flat A, owner), ...`, or `no home`."""
        return ", ".join(f"{home.id} ({home.name}, {role})" for home, role in self.homes) or "no home"


async def tenant_user(engine: AsyncEngine, name: str, tenant: str | None, home: Home | None) -> TenantUser:
    """The user of that name, checked against `--tenant` and `--home` when given.

    Raises:
        TenancyError: no such user; or one of another tenant than --tenant, or without a role in --home.
    """
    from hub.tenancy.login import find_login

    store = TenancyStore(engine)
    user = await find_login(engine, name)
    if user is None:
        raise TenancyError(f"no user named {name!r} in any tenant (see hub user list --home H)")
    owner = await store.tenant(user.tenant_id)
    if tenant is not None and (await store.tenant(tenant)).id != owner.id:
        raise TenancyError(f"--tenant {tenant}: {name} is a user of tenant {owner.name}, not of {tenant}")
    homes = {h.id: h for h in await store.homes(owner.id)}
    roles = [(homes[scope.home_id], role) for scope, role in await store.homes_of(user.id) if scope.home_id in homes]
    found = TenantUser(user, owner.name, roles)
    if home is not None and all(h.id != home.id for h, _role in roles):
        raise TenancyError(f"--home {home.id}: {name} has no role in home {home.name} ({home.id}); "
                           f"their homes: {found.where()}")
    return found


async def check_owners_stay(engine: AsyncEngine, found: TenantUser) -> None:
    """Refuse to take away the last active owner of any of the user's homes (before anything changes).

    Raises:
        TenancyError: naming the home that would be left without an owner.
    """
    for home, role in found.homes:
        if role != "owner":
            continue
        owners = [u for u in await home_auth(engine, home).list_users()
                  if u.is_owner and u.is_active and u.id != found.user.id]
        if not owners:
            raise TenancyError(f"{found.user.name} is the last owner of home {home.name} ({home.id}): make another "
                               f"user owner there first (hub user add NAME --home {home.id} --role owner)")


async def remove_from_tenant(engine: AsyncEngine, found: TenantUser) -> None:
    """Remove the user from every home of theirs, and so from the tenant, with every token of theirs."""
    await check_owners_stay(engine, found)
    for home, _role in found.homes:
        await home_auth(engine, home).remove_user(found.user.id)  # deleted with the last home
    if not found.homes:
        await tenant_auth(engine, found.user.tenant_id).remove_user(found.user.id)


__all__ = ["TenantUser", "check_owners_stay", "home_auth", "remove_from_tenant", "tenant_auth", "tenant_user"]
