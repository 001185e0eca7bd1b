"""User management over the WebSocket, in Home Assistant's `config/auth/*` shapes.

Owners and admins list, create, update and remove users and reset passwords; everyone changes
their own password with `auth/change_password`. Only an owner touches an owner or makes one,
nobody removes or deactivates themselves, and the hub always keeps an active owner. Every
change is written to the audit log.

HA's groups stand for the hub's roles: `system-admin` (admin; an owner has it too and
`is_owner`), `system-users` (user), `system-read-only` (read-only). `config/auth/create` takes
`username` and `password` as well (HA adds them in a second call to its auth provider; the
hub's users always have one password).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.api import ws_messages as messages
from hub.auth.store import ROLE_ADMIN, ROLE_OWNER, ROLE_READ_ONLY, ROLE_USER, AuthError

if TYPE_CHECKING:
    from hub.api.websocket import WebSocketConnection
    from hub.api.ws_commands import CommandRegistry
    from hub.auth.store import User
    from hub.core.hub import Hub

GROUP_OF_ROLE = {ROLE_OWNER: "system-admin", ROLE_ADMIN: "system-admin", ROLE_USER: "system-users",
                 ROLE_READ_ONLY: "system-read-only"}
ROLE_OF_GROUP = {"system-admin": ROLE_ADMIN, "system-users": ROLE_USER, "system-read-only": ROLE_READ_ONLY}


def user_as_dict(user: User) -> dict[str, Any]:
    """A user as HA's config/auth/list gives it."""
    return {
        "id": user.id,
        "username": user.name,
        "name": user.name,
        "is_owner": user.is_owner,
        "is_active": user.is_active,
        "local_only": False,
        "system_generated": False,
        "group_ids": [GROUP_OF_ROLE[user.role]],
        "role": user.role,
        "credentials": [{"type": "homeassistant"}],
    }


def _role(msg: dict[str, Any]) -> str | None:
    if "role" in msg:
        return str(msg["role"])
    groups = msg.get("group_ids")
    if not groups:
        return None
    for group in groups:
        if group in ROLE_OF_GROUP:
            return ROLE_OF_GROUP[group]
    message = f"Unknown group {groups[0]!r}; expected one of {', '.join(ROLE_OF_GROUP)}"
    raise vol.Invalid(message)


def _audit(hub: Hub, connection: WebSocketConnection, action: str, target: str, result: str = "ok",
           reason: str | None = None) -> None:
    auth = hub.require_auth()
    auth.audit.record(connection.user, action, target, result, connection.remote, reason=reason)


async def _target(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any], action: str) -> User | None:
    """The user a command is about, if this connection may manage them (else an error is sent)."""
    auth = hub.require_auth()
    user = await auth.get_user(msg["user_id"])
    if user is None:
        connection.send_error(msg["id"], messages.ERR_NOT_FOUND, "User not found")
        return None
    if user.is_owner and not connection.user.is_owner:
        _audit(hub, connection, action, user.name, "refused", "only an owner manages an owner")
        connection.send_error(msg["id"], messages.ERR_UNAUTHORIZED, "Only an owner may change an owner")
        return None
    return user


async def handle_list(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    users = await hub.require_auth().list_users()
    connection.send_result(msg["id"], [user_as_dict(u) for u in users])


async def handle_create(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    auth = hub.require_auth()
    role = _role(msg) or ROLE_USER
    if role == ROLE_OWNER and not connection.user.is_owner:
        connection.send_error(msg["id"], messages.ERR_UNAUTHORIZED, "Only an owner may make an owner")
        return
    username = msg.get("username") or msg["name"]
    try:
        user = await auth.add_user(username, msg["password"], role)
    except AuthError as err:
        _audit(hub, connection, "config/auth/create", str(username)[:64], "invalid", str(err))
        connection.send_error(msg["id"], messages.ERR_INVALID_FORMAT, str(err))
        return
    _audit(hub, connection, "config/auth/create", f"{user.name} ({role})")
    connection.send_result(msg["id"], {"user": user_as_dict(user)})


async def handle_update(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    auth = hub.require_auth()
    user = await _target(hub, connection, msg, "config/auth/update")
    if user is None:
        return
    role = _role(msg)
    if user.is_owner and role == ROLE_ADMIN and "role" not in msg:
        role = None  # HA's frontend sends an owner's group (system-admin) back unchanged
    if role == ROLE_OWNER and not connection.user.is_owner:
        connection.send_error(msg["id"], messages.ERR_UNAUTHORIZED, "Only an owner may make an owner")
        return
    if user.id == connection.user.id and (msg.get("is_active") is False or (role and role != user.role)):
        connection.send_error(msg["id"], messages.ERR_NOT_ALLOWED, "You cannot deactivate yourself or change your own role")
        return
    try:
        updated = await auth.update_user(user.id, name=msg.get("name"), role=role, is_active=msg.get("is_active"))
    except AuthError as err:
        _audit(hub, connection, "config/auth/update", user.name, "invalid", str(err))
        connection.send_error(msg["id"], messages.ERR_INVALID_FORMAT, str(err))
        return
    changed = ", ".join(f"{k}={msg[k]}" for k in ("name", "role", "group_ids", "is_active") if k in msg)
    _audit(hub, connection, "config/auth/update", f"{user.name}: {changed}")
    connection.send_result(msg["id"], {"user": user_as_dict(updated)})


async def handle_delete(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    auth = hub.require_auth()
    user = await _target(hub, connection, msg, "config/auth/delete")
    if user is None:
        return
    if user.id == connection.user.id:
        connection.send_error(msg["id"], messages.ERR_NOT_ALLOWED, "Unable to remove your own account")
        return
    try:
        await auth.remove_user(user.id)
    except AuthError as err:
        connection.send_error(msg["id"], messages.ERR_NOT_ALLOWED, str(err))
        return
    _audit(hub, connection, "config/auth/delete", user.name)
    connection.send_result(msg["id"])


async def handle_admin_change_password(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    auth = hub.require_auth()
    user = await _target(hub, connection, msg, "config/auth_provider/homeassistant/admin_change_password")
    if user is None:
        return
    try:
        await auth.set_password(user.id, msg["password"])
    except AuthError as err:
        connection.send_error(msg["id"], messages.ERR_INVALID_FORMAT, str(err))
        return
    _audit(hub, connection, "admin_change_password", user.name)
    connection.send_result(msg["id"])


async def handle_change_password(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """auth/change_password: the user's own, given the current one."""
    auth = hub.require_auth()
    user = connection.user
    if not await auth.check_password(user.id, msg["current_password"]):
        _audit(hub, connection, "change_password", user.name, "invalid_credentials")
        connection.send_error(msg["id"], "invalid_current_password", "Invalid current password")
        return
    try:
        await auth.set_password(user.id, msg["new_password"])
    except AuthError as err:
        connection.send_error(msg["id"], messages.ERR_INVALID_FORMAT, str(err))
        return
    _audit(hub, connection, "change_password", user.name)
    connection.send_result(msg["id"])


_GROUPS = vol.All([str], vol.Length(min=1))
_ROLES = vol.In((ROLE_OWNER, ROLE_ADMIN, ROLE_USER, ROLE_READ_ONLY))


def register_user_commands(registry: CommandRegistry) -> None:
    """Register config/auth/*, the admin password reset and auth/change_password."""
    registry.register("config/auth/list", handle_list, {}, admin_only=True)
    registry.register(
        "config/auth/create",
        handle_create,
        {
            vol.Required("name"): vol.All(str, vol.Length(min=1)),
            vol.Optional("username"): str,
            vol.Required("password"): str,
            vol.Optional("group_ids"): _GROUPS,
            vol.Optional("role"): _ROLES,
            vol.Optional("local_only"): bool,
        },
        admin_only=True,
    )
    registry.register(
        "config/auth/update",
        handle_update,
        {
            vol.Required("user_id"): str,
            vol.Optional("name"): str,
            vol.Optional("group_ids"): _GROUPS,
            vol.Optional("role"): _ROLES,
            vol.Optional("is_active"): bool,
            vol.Optional("local_only"): bool,
        },
        admin_only=True,
    )
    registry.register("config/auth/delete", handle_delete, {vol.Required("user_id"): str}, admin_only=True)
    registry.register(
        "config/auth_provider/homeassistant/admin_change_password",
        handle_admin_change_password,
        {vol.Required("user_id"): str, vol.Required("password"): str},
        admin_only=True,
    )
    # HA's frontend sends the provider's name; the short one is the hub's own.
    for name in ("auth/change_password", "config/auth_provider/homeassistant/change_password"):
        registry.register(
            name, handle_change_password, {vol.Required("current_password"): str, vol.Required("new_password"): str}
        )
