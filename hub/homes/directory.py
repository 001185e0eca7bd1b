"""The homes a process serves and who may use them: the tenancy store, with `homes:` declared into it.

The tenants, homes and members tables (hub/tenancy/store.py, `hub tenant|home ...`) are the
directory. The `homes:` section of configuration.yaml is a declaration applied to them at every
start (docs/homes.md, "Homes in the database"):

- each listed tenant is made if missing (id and name the listed value, no plan);
- each listed home is made, or its name, topic root, time zone and currency set to the listed ones;
- each listed member gets the listed role in the home: at start for a user who exists, and at
  the moment the user is made (in any home of the tenant) for one who does not yet.

Nothing is deleted: a home or member taken out of the list stays until `hub home remove` or a
home's owner removes the user. The process serves every home of the store, in the order listed
first, then the others by tenant and name; the built-in default home (a single-home install's
data) only when the list names it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.core.scope import DEFAULT_HOME_ID, HomeScope
from hub.exceptions import HubError
from hub.homes.record import HomeRecord
from hub.tenancy.store import Home, TenancyError, TenancyStore

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.auth.store import User

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Declared:
    """The members the `homes:` section lists, by user name, applied when such a user is made."""

    homes: list[dict[str, Any]]
    stored: dict[str, Home] = field(default_factory=dict)  # home id -> the store's home
    engine: Any = None  # the application role's engine, once the host runs

    async def apply(self, user: User, scope: HomeScope) -> None:
        """Give a user just made in a home of `scope`'s tenant the roles the list declares for their name."""
        if self.engine is None:
            return
        store = TenancyStore(self.engine)
        for listed in self.homes:
            role = listed["members"].get(user.name)
            home = self.stored.get(listed["id"])
            if role is not None and home is not None and home.tenant_id == scope.tenant_id:
                await store.add_member(home, user.id, role)


async def declare(owner: AsyncEngine, homes: list[dict[str, Any]]) -> Declared:
    """Make the listed tenants and homes, and give the listed members who exist their role (as the owner).

    Raises:
        HubError: a listed home clashes with the store (another tenant's id, a name taken);
            the message names the home's line in configuration.yaml.
    """
    from hub.config.objects import get_location  # noqa: PLC0415 - config loading stays out of imports

    store = TenancyStore(owner)
    declared = Declared(homes)
    for index, listed in enumerate(homes):
        file, line = get_location(listed)
        if line is None:
            file, line = get_location(homes)
        where = f"{file or 'configuration.yaml'}{f', line {line}' if line else ''}"
        try:
            await store.declare_tenant(listed["tenant"])
            home = await store.declare_home(
                (await store.tenant(listed["tenant"])).id, listed["id"], listed["name"],
                topic_root=listed["topic_root"], time_zone=listed["time_zone"], currency=listed["currency"],
            )
        except TenancyError as err:
            message = (f"{where}: homes[{index}] ({listed['id']!r}) does not fit the homes in the database: {err}")
            raise HubError(message) from None
        declared.stored[home.id] = home
        waiting = []
        for name, role in listed["members"].items():
            user_id = await store.user_id(home.tenant_id, name)
            if user_id is None:
                waiting.append(name)
            else:
                await store.add_member(home, user_id, role)
        if waiting:
            _LOGGER.info("Home %s lists members who are no users yet (%s): each gets their role when made",
                         home.id, ", ".join(waiting))
    return declared


async def served(owner: AsyncEngine, homes: list[dict[str, Any]], *, strict: bool = True,
                 reported: set[str] | None = None) -> list[HomeRecord]:
    """The homes to serve: the listed ones in their order, then every other home of the store;
    none of a suspended tenant.

    Args:
        strict: raise for a home that cannot be served (at start); else leave it out, logged
            (a running host re-reading the homes: the others go on).
        reported: the problems logged already (not logged again); kept by the caller.

    Raises:
        HubError: a home of the store has no topic root of its own, or overlaps another's (strict).
    """
    listed = [h["id"] for h in homes]
    store = TenancyStore(owner)
    tenants = {tenant.id: tenant for tenant in await store.tenants()}
    stored = {home.id: home for home in await store.homes()
              if home.tenant_id in tenants and tenants[home.tenant_id].status == "active"}
    order = [stored[i] for i in listed if i in stored]
    order += [h for h in stored.values() if h.id not in listed and h.id != DEFAULT_HOME_ID]
    records = [HomeRecord(h.scope, h.name, h.topic_root, h.time_zone, h.currency, tenants[h.tenant_id].plan)
               for h in order]
    usable, problems = _check_roots(records)
    if problems and strict:
        raise HubError(problems[0])
    for problem in problems:
        if reported is None or problem not in reported:
            _LOGGER.error("Not serving a home: %s", problem)
    if reported is not None:
        reported.intersection_update(problems)
        reported.update(problems)
    return usable


async def suspended(owner: AsyncEngine) -> set[str]:
    """The ids of the homes whose tenant is suspended (not served; they come back when it resumes)."""
    store = TenancyStore(owner)
    paused = {tenant.id for tenant in await store.tenants() if tenant.status != "active"}
    return {home.id for home in await store.homes() if home.tenant_id in paused}


def _check_roots(records: list[HomeRecord]) -> tuple[list[HomeRecord], list[str]]:
    """The records that can be served, and what is wrong with each of the others."""
    seen: list[HomeRecord] = []
    problems: list[str] = []
    for record in records:
        if not record.topic_root:
            problems.append(f"home {record.home_id!r} has no MQTT topic root: homes on one broker must not share "
                            f"topics; give it one (hub home remove, then hub home add --topic-root {record.home_id}/)")
            continue
        other = next((o for o in seen if record.topic_root.startswith(o.topic_root)
                      or o.topic_root.startswith(record.topic_root)), None)
        if other is not None:
            problems.append(f"the topic roots of homes {other.home_id!r} ({other.topic_root!r}) and "
                            f"{record.home_id!r} ({record.topic_root!r}) overlap: one home's devices could "
                            "publish into the other's topics")
            continue
        seen.append(record)
    return seen, problems


__all__ = ["Declared", "declare", "served", "suspended"]
