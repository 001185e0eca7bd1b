"""The homes a process serves come from the tenancy store; `homes:` is declared into it at each start;
the process serves them only as a role that row-level security binds."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from hub import bootstrap
from hub.exceptions import HubError
from hub.storage.engine import create_engine
from hub.tenancy.store import TenancyStore
from tests.homes.conftest import Roles, grant_roles, make_roles
from tests.hubs import write_config


def config_of(tmp_path: Path, storage: str, broker: str, homes: str) -> Path:
    return write_config(tmp_path / "config", storage + f"mqtt:\n  broker: {broker}\nhomes:\n"
                        + textwrap.indent(textwrap.dedent(homes), "  "))


HOMES = """\
- id: dir-a
  tenant: acme
  name: Flat A
  topic_root: dir/a/
  members: {alice: owner, bob: admin}
- id: dir-b
  tenant: acme
  topic_root: dir/b/
  members: {alice: user}
"""


async def test_homes_come_from_the_store_and_the_list_is_declared_into_it(
        tmp_path: Path, pg_url: str, mosquitto_server: Any) -> None:
    roles = await make_roles(pg_url)
    config = config_of(tmp_path, roles.storage_yaml(), mosquitto_server.url, HOMES)
    checked = await grant_roles(roles, config)
    owner = create_engine(roles.owner_url)
    store = TenancyStore(owner)
    try:
        # What `hub tenant add` and `hub home add` make is served as well.
        await store.add_tenant("globex", "starter")
        shop = await store.add_home("globex", "Shop", topic_root="dir/shop/")
        runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=checked)
        try:
            homes = runtime.homes
            assert homes is not None
            assert list(homes.homes) == ["dir-a", "dir-b", shop.id]  # listed first; never the built-in default
            shop_home = homes.get(shop.id)
            assert shop_home is not None and shop_home.hub.config.name == "Shop"
            assert shop_home.hub.config.plan == "starter"
            a = homes.get("dir-a")
            assert a is not None and a.hub.config.name == "Flat A"
            # alice was no user at start: made in dir-a, she gets every role the list gives her name.
            a.auth._rounds = 4
            alice = await a.auth.add_user("alice", "correct horse battery", "user")
            assert alice.role == "owner"
            assert sorted((s.home_id, r) for s, r in await homes.auth.homes_of(alice.id)) == [
                ("dir-a", "owner"), ("dir-b", "user")]
        finally:
            await bootstrap.stop(runtime)
        assert sorted(h.id for h in await store.homes()) == sorted(["default", "dir-a", "dir-b", shop.id])

        # dir-b taken out of the list, dir-a renamed: dir-a follows the list, dir-b stays (and is served).
        config = config_of(tmp_path, roles.storage_yaml(), mosquitto_server.url, """\
            - id: dir-a
              tenant: acme
              name: Flat A (renamed)
              topic_root: dir/a/
              members: {alice: owner}
            """)
        runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=bootstrap.check_config(config))
        try:
            homes = runtime.homes
            assert homes is not None
            assert list(homes.homes)[0] == "dir-a" and set(homes.homes) == {"dir-a", "dir-b", shop.id}
            assert homes.get("dir-a").hub.config.name == "Flat A (renamed)"  # type: ignore[union-attr]
            assert [t.name for t in await store.tenants()] == ["acme", "default", "globex"]  # made once
            assert await homes.role_of(alice.id, homes.get("dir-b").record.scope) == "user"  # type: ignore[union-attr]
        finally:
            await bootstrap.stop(runtime)

        # A listed home that another tenant's home has the id of: the start stops, naming both.
        config = config_of(tmp_path, roles.storage_yaml(), mosquitto_server.url, """\
            - id: dir-a
              tenant: globex
              topic_root: dir/a/
            """)
        with pytest.raises(HubError) as caught:
            await bootstrap.start(config, tmp_path / "data", port=0, checked=bootstrap.check_config(config))
        assert "configuration.yaml" in str(caught.value) and "belongs to tenant 'acme'" in str(caught.value)
    finally:
        await owner.dispose()


@pytest.mark.parametrize("role", ["owner", "superuser"])
async def test_a_role_that_row_level_security_does_not_bind_stops_the_start(
        tmp_path: Path, pg_url: str, mosquitto_server: Any, role: str) -> None:
    roles: Roles = await make_roles(pg_url)
    db_url = roles.owner_url if role == "owner" else pg_url
    storage = f"storage:\n  db_url: {db_url}\n  migrate_url: {roles.owner_url}\n"
    config = config_of(tmp_path, storage, mosquitto_server.url, HOMES)
    with pytest.raises(HubError) as caught:
        await bootstrap.start(config, tmp_path / "data", port=0, checked=await grant_roles(roles, config))
    message = str(caught.value)
    assert "hub db grant-app-role" in message, message
    assert ("owns" if role == "owner" else "superuser") in message, message
