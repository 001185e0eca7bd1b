"""Users managed over the WebSocket in HA's config/auth shapes: who may do what, and the audit."""

from __future__ import annotations

import pytest

from hub.auth.store import InvalidRoleError

from .conftest import PASSWORD, Api, WsClient


async def _login(api: Api, name: str, password: str) -> int:
    async with api.session.post(f"{api.url}/api/v1/auth/login",
                                json={"username": name, "password": password}) as answer:
        return answer.status


async def test_an_admin_creates_updates_resets_and_removes_a_user(api: Api) -> None:
    admin = await api.ws("admin")
    listed = {u["name"]: u for u in await admin.command("config/auth/list")}
    assert listed["owner"]["is_owner"] is True and listed["owner"]["group_ids"] == ["system-admin"]
    assert listed["read-only"]["group_ids"] == ["system-read-only"]

    created = (await admin.command("config/auth/create", name="bob", password="bob's long password",
                                   group_ids=["system-users"]))["user"]
    assert created["role"] == "user" and created["is_active"] is True
    assert await _login(api, "bob", "bob's long password") == 200
    taken = await admin.error("config/auth/create", name="bob", password="another long one")
    assert taken["code"] == "invalid_format" and "already exists" in taken["message"]

    # A session of bob's dies with his deactivation.
    token = await api.hub.auth.create_long_lived_token(created["id"], "bob's")
    bob = WsClient(await api.session.ws_connect(f"{api.url}/api/websocket"))
    await bob.authenticate(token)
    updated = (await admin.command("config/auth/update", user_id=created["id"], name="Bob",
                                   group_ids=["system-read-only"], is_active=False))["user"]
    assert updated == {**updated, "name": "Bob", "role": "read-only", "is_active": False}
    assert await _login(api, "Bob", "bob's long password") == 401
    assert await api.hub.auth.validate_token(token) is None

    await admin.command("config/auth/update", user_id=created["id"], is_active=True)
    await admin.command("config/auth_provider/homeassistant/admin_change_password", user_id=created["id"],
                        password="a brand new password")
    assert await _login(api, "Bob", "bob's long password") == 401
    assert await _login(api, "Bob", "a brand new password") == 200

    assert await admin.command("config/auth/delete", user_id=created["id"]) is None
    assert "Bob" not in {u["name"] for u in await admin.command("config/auth/list")}
    actions = [r["action"] for r in await (await api.ws("owner")).command("audit/list", limit=1000)]
    for action in ("config/auth/create", "config/auth/update", "admin_change_password", "config/auth/delete"):
        assert action in actions


async def test_owners_are_protected_and_nobody_removes_themselves(api: Api) -> None:
    admin, owner = await api.ws("admin"), await api.ws("owner")
    owner_id, admin_id = api.users["owner"].id, api.users["admin"].id
    for command, fields in (("config/auth/delete", {}), ("config/auth/update", {"is_active": False}),
                            ("config/auth_provider/homeassistant/admin_change_password", {"password": "x" * 12})):
        assert (await admin.error(command, user_id=owner_id, **fields))["code"] == "unauthorized"
    assert (await admin.error("config/auth/create", name="boss", password="x" * 12, role="owner"))["code"] == "unauthorized"
    assert (await admin.error("config/auth/delete", user_id=admin_id))["code"] == "not_allowed"
    assert (await owner.error("config/auth/update", user_id=owner_id, role="user"))["code"] == "not_allowed"
    # Users and read-only users do not manage users at all.
    for role in ("user", "read-only"):
        assert (await (await api.ws(role)).error("config/auth/list"))["code"] == "unauthorized"
    # An owner may hand over: make the admin owner, then the old owner may be changed by the new one.
    await owner.command("config/auth/update", user_id=admin_id, role="owner")
    await (await api.ws("admin")).command("config/auth/update", user_id=owner_id, role="admin")
    assert [u.role for u in await api.hub.auth.list_users() if u.id in (owner_id, admin_id)] == ["admin", "owner"]


async def test_everyone_changes_their_own_password_knowing_the_current_one(api: Api) -> None:
    client = await api.ws("read-only")
    wrong = await client.error("auth/change_password", current_password="nope", new_password="x" * 16)
    assert wrong["code"] == "invalid_current_password"
    assert await client.command("auth/change_password", current_password=PASSWORD,
                                new_password="read only's new one") is None
    assert await _login(api, "read-only", PASSWORD) == 401
    assert await _login(api, "read-only", "read only's new one") == 200


async def test_the_last_owner_cannot_be_removed(api: Api) -> None:
    with pytest.raises(InvalidRoleError, match="active owner"):
        await api.hub.auth.remove_user(api.users["owner"].id)
    assert [u.name for u in await api.hub.auth.list_users() if u.is_owner] == ["owner"]
