"""Row-level security on real PostgreSQL: two tenants, two homes each, a row of every home-owned
table in every home; the hub's application role sees and writes its own home only, also when
the application's own filter is removed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from hub import bootstrap
from hub.core.scope import HomeScope
from hub.registry.areas import AreaRegistry
from hub.registry.devices import DeviceRegistry
from hub.registry.entities import EntityRegistry
from hub.storage import scoped
from hub.storage.rls import check_rls_role
from hub.storage.scoped import scoped_sessions
from hub.tenancy.login import find_login
from hub.tenancy.store import TenancyStore

from .conftest import RlsDatabase, home_owned_tables, row_for

pytestmark = pytest.mark.services


def _other(db: RlsDatabase, scope: HomeScope) -> HomeScope:
    """A home of the other tenant."""
    return next(s for s in db.homes.values() if s.tenant_id != scope.tenant_id)


async def test_every_scope_sees_only_its_rows_in_every_table(rls_db: RlsDatabase) -> None:
    tables = home_owned_tables()
    assert {"devices", "entities", "areas", "restore_states", "audit_log", "tokens", "persistent_notifications",
            "device_api_keys", "mqtt_discovery", "frontend_charts", "relay_commands", "energy_state"} <= set(tables)
    for scope in rls_db.homes.values():
        async with scoped_sessions(rls_db.app, scope)() as session:
            for name, table in tables.items():
                # Through the application's filter ...
                rows = (await session.execute(select(table.c.tenant_id, table.c.home_id))).all()
                assert rows == [(scope.tenant_id, scope.home_id)], name
                # ... and without it: a text statement passes the filter untouched; RLS alone.
                raw = (await session.execute(text(f"SELECT tenant_id, home_id FROM {name}"))).all()
                assert raw == [(scope.tenant_id, scope.home_id)], name
            users = (await session.execute(text("SELECT tenant_id FROM users"))).scalars().all()
            assert users == [scope.tenant_id]
            homes = (await session.execute(text("SELECT DISTINCT tenant_id FROM homes"))).scalars().all()
            assert homes == [scope.tenant_id]


async def test_without_a_scope_the_application_role_sees_nothing(rls_db: RlsDatabase) -> None:
    async with rls_db.app.connect() as connection:
        for name in [*home_owned_tables(), "users", "homes", "home_members", "tenants"]:
            assert (await connection.execute(text(f"SELECT count(*) FROM {name}"))).scalar_one() == 0, name


async def test_registries_load_only_their_home_with_the_filter_removed(
    rls_db: RlsDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # How the filter was removed: hub.storage.scoped.home_filter, the one place that adds
    # `home_id = :home` to every statement of a scoped session, is patched to add nothing.
    calls: list[object] = []

    def no_filter(statement: object, scope: HomeScope) -> object:
        calls.append(statement)
        return statement

    monkeypatch.setattr(scoped, "home_filter", no_filter)
    for scope in rls_db.homes.values():
        sessions = scoped_sessions(rls_db.app, scope)
        areas = AreaRegistry(sessions)
        devices = DeviceRegistry(sessions, area_registry=areas)
        entities = EntityRegistry(sessions, device_registry=devices, area_registry=areas)
        await areas.load()
        await devices.load()
        await entities.load()
        assert [a.id for a in areas] == ["garage"]
        assert [d.id for d in devices] == [f"dev-1-{_name(rls_db, scope)}"]
        assert [e.entity_id for e in entities.entities] == ["sensor.garage_power"]
        assert entities.get("sensor.garage_power").device_id == f"dev-1-{_name(rls_db, scope)}"
    assert calls  # the registries' statements did go through the (patched) filter


async def test_a_row_with_another_homes_ids_is_refused(rls_db: RlsDatabase) -> None:
    tables = home_owned_tables()
    scope = rls_db.homes["acme-home1"]
    for target in (rls_db.homes["acme-home2"], _other(rls_db, scope)):
        for name, table in tables.items():
            row = {**row_for(name, "intruder"), "tenant_id": target.tenant_id, "home_id": target.home_id}
            if name == "tokens":
                row["user_id"] = rls_db.users[scope.tenant_id]
            async with scoped_sessions(rls_db.app, scope)() as session:
                with pytest.raises(DBAPIError, match="row-level security"):
                    async with session.begin():
                        await session.execute(insert(table), [row])
    # Nor can a row of one's own be moved into another home.
    async with scoped_sessions(rls_db.app, scope)() as session:
        with pytest.raises(DBAPIError, match="row-level security"):
            async with session.begin():
                await session.execute(update(tables["entities"]).values(home_id=rls_db.homes["acme-home2"].home_id))
    # And another home's rows are not there to change: an update of every row touches one.
    async with scoped_sessions(rls_db.app, scope)() as session, session.begin():
        result = await session.execute(text("UPDATE restore_states SET state = 'mine'"))
        assert result.rowcount == 1  # type: ignore[attr-defined]
    async with scoped_sessions(rls_db.app, rls_db.homes["acme-home2"])() as session:
        assert (await session.execute(text("SELECT state FROM restore_states"))).scalar_one() == "230"


async def test_login_and_homes_of_cross_tenants_through_narrow_functions(rls_db: RlsDatabase) -> None:
    # The application role, with no tenant set, finds one user by name, and that user's homes.
    user = await find_login(rls_db.app, "alice-globex-home1")
    assert user is not None and user.tenant_id == rls_db.homes["globex-home1"].tenant_id
    assert await find_login(rls_db.app, "nobody") is None
    store = TenancyStore(rls_db.app)
    assert await store.homes_of(user.id) == []  # a user made by a raw insert is a member of nothing
    owner_store = TenancyStore(rls_db.owner)
    home = await owner_store.home(user.tenant_id, "globex-home2")
    await owner_store.add_member(home, user.id, "admin")
    assert await store.homes_of(user.id) == [(home.scope, "admin")]
    # It cannot read the table behind them.
    async with rls_db.app.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(text("users")))).scalar_one() == 0


async def test_roles_row_level_security_does_not_bind_are_named(rls_db: RlsDatabase) -> None:
    assert await check_rls_role(rls_db.app) == []
    owner_problems = await check_rls_role(rls_db.owner)
    assert len(owner_problems) == 1 and rls_db.owner_role in owner_problems[0] and "owns" in owner_problems[0]
    superuser = bootstrap.create_engine(rls_db.superuser_url)
    try:
        problems = await check_rls_role(superuser)
    finally:
        await superuser.dispose()
    assert any("superuser" in problem for problem in problems)


@pytest.mark.parametrize("role", ["owner", "superuser"])
async def test_a_hub_of_many_homes_refuses_to_start_as_owner_or_superuser(
    rls_db: RlsDatabase, tmp_path: Path, role: str
) -> None:
    url = rls_db.owner_url if role == "owner" else rls_db.superuser_url
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(f"storage:\n  db_url: {url}\n  migrate_url: {rls_db.owner_url}\n")
    with pytest.raises(bootstrap.HubError, match="row-level security") as refused:
        await bootstrap.start(config, tmp_path / "data", port=0)
    assert ("superuser" if role == "superuser" else rls_db.owner_role) in str(refused.value)
    assert "grant-app-role" in str(refused.value)


async def test_a_hub_of_many_homes_starts_as_the_application_role(rls_db: RlsDatabase, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(
        f"storage:\n  db_url: {rls_db.app_url}\n  migrate_url: {rls_db.owner_url}\n"
    )
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        # The default home: none of the four homes' rows.
        assert list(runtime.hub.require_entity_registry().entities) == []
        assert runtime.hub.states.get("sensor.garage_power") is None
    finally:
        await bootstrap.stop(runtime)


async def test_a_backup_as_a_role_rls_binds_is_refused_when_homes_would_be_missing(rls_db: RlsDatabase) -> None:
    from hub.ops.backup import check_dump_role

    for url in (rls_db.owner_url, rls_db.app_url):
        with pytest.raises(bootstrap.HubError, match="back up with a superuser or BYPASSRLS role"):
            await check_dump_role(url)
    await check_dump_role(rls_db.superuser_url)


def _name(db: RlsDatabase, scope: HomeScope) -> str:
    return next(name for name, s in db.homes.items() if s == scope)
