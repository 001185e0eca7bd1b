"""Tenants, homes and home members in the metadata database (`hub tenant|home ...`).

`TenancyStore` administers every tenant: on PostgreSQL it works as the tables' owner (the role
of `storage: migrate_url`), which the migrations let see every row of the tenant-level tables;
what it does inside one home (removing its rows) runs in that home's scoped session, as any
hub core's would. `homes_of(user_id)` is what a request needs to be scoped: on PostgreSQL it
goes through the narrow `hub_user_homes` function, so the application role can call it too.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.core.scope import DEFAULT_HOME_ID, DEFAULT_TENANT_ID, HomeScope
from hub.exceptions import HubError
from hub.storage.models import NAME_LENGTH, USER_ROLES, UserRow, table_of, utcnow
from hub.storage.scoped import scoped_sessions
from hub.tenancy.models import TENANT_STATUSES, HomeMemberRow, HomeRow, TenantRow
from hub.tenancy.plans import PLANS
from hub.util import new_ulid

TENANTS = table_of(TenantRow)
HOMES = table_of(HomeRow)
MEMBERS = table_of(HomeMemberRow)
USERS = table_of(UserRow)


# PostgreSQL channel a change of the served homes is announced on (payload: the home id), in the
# transaction that makes it: a running host re-reads the homes when it commits (hub/homes/watch.py).
HOMES_CHANNEL = "hub_homes"
KEYS_PAYLOAD = "apikeys:"  # a payload "apikeys:<home id>": that home's device keys changed, not the homes


async def announce_keys(engine: AsyncEngine, home_id: str) -> None:
    """Tell running hosts that a home's device keys were made from outside them (`hub apikey create`)."""
    async with engine.begin() as connection:
        await announce(connection, KEYS_PAYLOAD + home_id)


async def announce(connection: Any, home_id: str) -> None:
    """Tell running hosts (LISTEN hub_homes) that this home was added, changed or removed; PostgreSQL only."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_notify(:channel, :home)"), {"channel": HOMES_CHANNEL, "home": home_id})


class TenancyError(HubError):
    """A tenant or home operation was refused; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    plan: str | None
    status: str
    trial_ends_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Home:
    id: str
    tenant_id: str
    name: str
    topic_root: str
    time_zone: str
    currency: str
    created_at: datetime

    @property
    def scope(self) -> HomeScope:
        return HomeScope(self.tenant_id, self.id)


def check_name(value: Any, what: str) -> str:
    """A tenant's or home's name: 1 to 255 characters, not blank."""
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > NAME_LENGTH:
        raise TenancyError(f"a {what} name must be 1 to {NAME_LENGTH} characters, got {value!r}")
    return value.strip()


def check_plan(value: Any, names: Iterable[str] = tuple(PLANS)) -> str | None:
    """A plan name (the built-in ones of hub/tenancy/plans.py or `names`), or None (no plan, no limits)."""
    if value is None:
        return None
    names = tuple(names)
    if value not in names:
        raise TenancyError(f"unknown plan {value!r}; expected one of {', '.join(names)}")
    return str(value)


def check_topic_root(value: Any) -> str:
    """A home's MQTT topic root, validated as `mqtt: topic_root` is ("" or e.g. "home1/")."""
    from integrations.mqtt import topic_root

    try:
        return topic_root.check(value)
    except ValueError as err:
        raise TenancyError(f"topic root: {err}") from None


def check_time_zone(value: Any) -> str:
    """An IANA time zone name, as `homeassistant: time_zone` takes."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise TenancyError(f"time zone: expected an IANA time zone such as 'Europe/Amsterdam', got {value!r}") from None
    return str(value)


def check_currency(value: Any) -> str:
    """An ISO 4217 currency code, as `homeassistant: currency` takes."""
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise TenancyError(f"currency: expected an ISO 4217 currency code such as 'EUR', got {value!r}")
    return value.upper()


class TenancyStore:
    """Tenants, homes and members (see the module doc)."""

    def __init__(self, engine: AsyncEngine, plans: Iterable[str] = tuple(PLANS)) -> None:
        self._engine = engine
        self._plans = tuple(plans)  # the plan names a tenant may be on (with the `plans:` section's own)

    # ---- tenants ----

    async def add_tenant(
        self, name: str, plan: str | None = None, *, status: str = "active", trial_ends_at: datetime | None = None
    ) -> Tenant:
        """Create a tenant; TenancyError if the name is taken or the plan or status unknown."""
        name = check_name(name, "tenant")
        if status not in TENANT_STATUSES:
            raise TenancyError(f"unknown status {status!r}; expected one of {', '.join(TENANT_STATUSES)}")
        tenant = Tenant(new_ulid(), name, check_plan(plan, self._plans), status, trial_ends_at, utcnow())
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(TENANTS).values(**_fields(tenant)))
        except IntegrityError:
            raise TenancyError(f"a tenant named {name!r} exists already") from None
        return tenant

    async def tenants(self) -> list[Tenant]:
        """Every tenant, by name."""
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(TENANTS).order_by(TENANTS.c.name))).all()
        return [Tenant(**row._asdict()) for row in rows]

    async def tenant(self, name_or_id: str) -> Tenant:
        """The tenant of this name or id; TenancyError naming the known ones if there is none."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(TENANTS).where((TENANTS.c.name == name_or_id) | (TENANTS.c.id == name_or_id))
                )
            ).first()
        if row is None:
            known = ", ".join(t.name for t in await self.tenants()) or "none"
            raise TenancyError(f"no tenant {name_or_id!r} (tenants: {known}); add one with `hub tenant add NAME`")
        return Tenant(**row._asdict())

    async def set_status(self, name_or_id: str, status: str) -> Tenant:
        """Suspend a tenant (its homes are no longer served; their data stays) or make it active again."""
        if status not in TENANT_STATUSES:
            raise TenancyError(f"unknown status {status!r}; expected one of {', '.join(TENANT_STATUSES)}")
        tenant = await self.tenant(name_or_id)
        async with self._engine.begin() as connection:
            await connection.execute(update(TENANTS).where(TENANTS.c.id == tenant.id).values(status=status))
            for home in await self.homes(tenant.id):
                await announce(connection, home.id)
        return Tenant(**{**_fields(tenant), "status": status})

    async def remove_tenant(self, name_or_id: str, *, force: bool = False) -> Tenant:
        """Remove a tenant with its users; refuses while it has homes unless `force` (then those go too)."""
        tenant = await self.tenant(name_or_id)
        if tenant.id == DEFAULT_TENANT_ID:
            raise TenancyError("the default tenant holds the single-home install's data and cannot be removed")
        homes = await self.homes(tenant.id)
        if homes and not force:
            names = ", ".join(h.name for h in homes)
            raise TenancyError(f"tenant {tenant.name!r} still has homes ({names}); remove them first or pass --force")
        for home in homes:
            await self.remove_home(tenant.id, home.id, force=True)
        async with scoped_sessions(self._engine, HomeScope(tenant.id, ""))() as session, session.begin():
            await session.execute(delete(USERS))  # the scope's filter: this tenant's users only
        async with self._engine.begin() as connection:
            await connection.execute(delete(TENANTS).where(TENANTS.c.id == tenant.id))
        return tenant

    # ---- homes ----

    async def add_home(
        self,
        tenant: str,
        name: str,
        *,
        topic_root: str = "",
        time_zone: str = "UTC",
        currency: str = "EUR",
    ) -> Home:
        """Create a home of a tenant; TenancyError on a bad field or a name its tenant uses already."""
        owner = await self.tenant(tenant)
        name = check_name(name, "home")
        home = Home(
            new_ulid(), owner.id, name, check_topic_root(topic_root), check_time_zone(time_zone),
            check_currency(currency), utcnow(),
        )
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(HOMES).values(**_fields(home)))
                await announce(connection, home.id)
        except IntegrityError:
            raise TenancyError(f"tenant {owner.name!r} has a home named {name!r} already") from None
        return home

    async def homes(self, tenant: str | None = None) -> list[Home]:
        """The homes of one tenant (name or id), or of every tenant; by tenant, then name."""
        statement = select(HOMES).order_by(HOMES.c.tenant_id, HOMES.c.name)
        if tenant is not None:
            statement = statement.where(HOMES.c.tenant_id == (await self.tenant(tenant)).id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [Home(**row._asdict()) for row in rows]

    async def home(self, tenant: str, name_or_id: str) -> Home:
        """A home of a tenant by name or id; TenancyError naming the tenant's homes if none."""
        homes = await self.homes(tenant)
        for home in homes:
            if name_or_id in (home.name, home.id):
                return home
        known = ", ".join(h.name for h in homes) or "none"
        raise TenancyError(f"tenant {tenant!r} has no home {name_or_id!r} (its homes: {known})")

    async def remove_home(self, tenant: str, name_or_id: str, *, force: bool = False) -> Home:
        """Remove a home and every row it owns, in every table; refuses while it has devices unless `force`."""
        home = await self.home(tenant, name_or_id)
        if home.id == DEFAULT_HOME_ID:
            raise TenancyError("the default home holds the single-home install's data and cannot be removed")
        sessions = scoped_sessions(self._engine, home.scope)
        async with sessions() as session:
            devices = (await session.execute(text("SELECT count(*) FROM devices WHERE home_id = :h"),
                                             {"h": home.id})).scalar_one()
        if devices and not force:
            raise TenancyError(
                f"home {home.name!r} has {devices} device(s); remove them first, or pass --force to remove the "
                "home with every device, entity and row it owns"
            )
        async with self._engine.connect() as connection:
            tables = await connection.run_sync(_home_owned_tables)
        async with sessions() as session, session.begin():
            for table in tables:
                # Its own session's scope restricts each delete to this home (and RLS on PostgreSQL).
                await session.execute(text(f'DELETE FROM "{table}" WHERE home_id = :h'), {"h": home.id})
        async with self._engine.begin() as connection:
            await connection.execute(delete(HOMES).where(HOMES.c.id == home.id))
            await announce(connection, home.id)
        return home

    # ---- members ----

    async def add_member(self, home: Home, user_id: str, role: str) -> None:
        """Give a user (of the home's tenant) a role in the home, or change it."""
        if role not in USER_ROLES:
            raise TenancyError(f"unknown role {role!r}; expected one of {', '.join(USER_ROLES)}")
        sessions = scoped_sessions(self._engine, home.scope)
        async with sessions() as session, session.begin():
            user = (await session.execute(select(USERS.c.tenant_id).where(USERS.c.id == user_id))).scalar()
            if user is None:
                raise TenancyError(f"no user {user_id!r} in tenant {home.tenant_id!r}")
            await session.execute(
                delete(MEMBERS).where(MEMBERS.c.home_id == home.id, MEMBERS.c.user_id == user_id)
            )
            await session.execute(insert(MEMBERS).values(home_id=home.id, user_id=user_id, role=role))

    async def homes_of(self, user_id: str) -> list[tuple[HomeScope, str]]:
        """The homes a user may act in, with their role in each, by home id."""
        async with self._engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                result = await connection.execute(
                    text("SELECT tenant_id, home_id, role FROM hub_user_homes(:u)"), {"u": user_id}
                )
            else:
                result = await connection.execute(
                    select(MEMBERS.c.tenant_id, MEMBERS.c.home_id, MEMBERS.c.role)
                    .where(MEMBERS.c.user_id == user_id)
                    .order_by(MEMBERS.c.home_id)
                )
            return [(HomeScope(tenant_id, home_id), role) for tenant_id, home_id, role in result.all()]

    async def user_id(self, tenant_id: str, name: str) -> str | None:
        """The id of the user of that name in that tenant, None when the tenant has none."""
        async with self._engine.connect() as connection:
            return (await connection.execute(
                select(USERS.c.id).where(USERS.c.tenant_id == tenant_id, USERS.c.name == name)
            )).scalar()

    async def declare_tenant(self, tenant_id: str) -> Tenant:
        """The tenant of this id or name, made (id and name both `tenant_id`, no plan) when there is none."""
        try:
            return await self.tenant(tenant_id)
        except TenancyError:
            pass
        tenant = Tenant(tenant_id, check_name(tenant_id, "tenant"), None, "active", None, utcnow())
        async with self._engine.begin() as connection:
            await connection.execute(insert(TENANTS).values(**_fields(tenant)))
        return tenant

    async def declare_home(
        self, tenant_id: str, home_id: str, name: str, *, topic_root: str, time_zone: str, currency: str
    ) -> Home:
        """Make the home with this id, or bring its name, topic root, time zone and currency to these.

        Raises:
            TenancyError: the id is another tenant's home, or the tenant has another home of that name.
        """
        fields = {"name": check_name(name, "home"), "topic_root": check_topic_root(topic_root),
                  "time_zone": check_time_zone(time_zone), "currency": check_currency(currency)}
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(HOMES).where(HOMES.c.id == home_id))).first()
        if row is not None and row.tenant_id != tenant_id:
            raise TenancyError(f"home id {home_id!r} belongs to tenant {row.tenant_id!r}, not {tenant_id!r}")
        try:
            async with self._engine.begin() as connection:
                if row is None:
                    home = Home(home_id, tenant_id, created_at=utcnow(), **fields)
                    await connection.execute(insert(HOMES).values(**_fields(home)))
                    await announce(connection, home_id)
                    return home
                if any(getattr(row, key) != value for key, value in fields.items()):
                    await connection.execute(update(HOMES).where(HOMES.c.id == home_id).values(**fields))
                    await announce(connection, home_id)
        except IntegrityError:
            raise TenancyError(f"tenant {tenant_id!r} has another home named {name!r}") from None
        return Home(**{**row._asdict(), **fields})

    async def count_homes(self) -> int:
        """How many homes there are (every tenant's, as the owner sees them)."""
        async with self._engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(HOMES))).scalar_one())


# Emptied last, in this order: other tables' rows refer to them.
_LAST = ("areas", "home_members")


def _home_owned_tables(connection: Any) -> list[str]:
    """Every table (the core's, integrations', plugins') with a home_id column, in a safe delete order."""
    inspector = inspect(connection)
    owned = {
        name for name in inspector.get_table_names()
        if "home_id" in {column["name"] for column in inspector.get_columns(name)}
    }
    return sorted(owned - set(_LAST)) + [name for name in _LAST if name in owned]


def _fields(value: Tenant | Home) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


__all__ = [
    "Home",
    "TenancyError",
    "HOMES_CHANNEL",
    "TenancyStore",
    "Tenant",
    "announce",
    "announce_keys",
    "check_currency",
    "check_plan",
    "check_time_zone",
    "check_topic_root",
]
