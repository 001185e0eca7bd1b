"""WebSocket commands about the user: who am I, my tokens, and (admins) the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.api import ws_messages as messages
from hub.api.permissions import can_control
from hub.auth.store import TOKEN_LONG_LIVED, AuthError, TokenInfo
from hub.exceptions import Unauthorized

if TYPE_CHECKING:
    from hub.api.websocket import WebSocketConnection
    from hub.api.ws_commands import CommandRegistry
    from hub.core.hub import Hub

# HA's names for token kinds in auth/refresh_tokens.
TOKEN_TYPES = {TOKEN_LONG_LIVED: "long_lived_access_token", "refresh": "normal"}


def token_as_dict(token: TokenInfo, current_id: str | None) -> dict[str, Any]:
    """Return a token as HA's auth/refresh_tokens lists it (never its value)."""
    return {
        "id": token.id,
        "client_id": None,
        "client_name": token.label,
        "client_icon": None,
        "type": TOKEN_TYPES.get(token.kind, token.kind),
        "created_at": token.created_at.isoformat(),
        "expire_at": token.expires_at.isoformat() if token.expires_at else None,
        "is_current": token.id == current_id,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "last_used_ip": None,
        "auth_provider_type": "homeassistant",
        "revoked": token.revoked_at is not None,
    }


async def handle_current_user(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Return the connection's user (HA's auth/current_user)."""
    user = connection.user
    connection.send_result(
        msg["id"],
        {
            "id": user.id,
            "name": user.name,
            "is_owner": user.is_owner,
            "is_admin": user.is_admin,
            "role": user.role,
            "credentials": [{"auth_provider_type": "homeassistant", "auth_provider_id": None}],
            "mfa_modules": [],
        },
    )


async def handle_long_lived_token(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Create a long-lived access token for the user; the result is the token (shown once).

    Not for read-only users: a token outlives the session it was made in, and a read-only
    account is often a shared screen's.
    """
    auth = hub.require_auth()
    if not can_control(connection.user):
        auth.audit.record(connection.user, "create_token", msg["client_name"], "refused", connection.remote,
                          reason=f"role {connection.user.role} may not create tokens")
        raise Unauthorized
    try:
        token = await auth.create_long_lived_token(
            connection.user.id, msg["client_name"], lifespan_days=msg["lifespan"]
        )
    except AuthError as err:
        connection.send_error(msg["id"], messages.ERR_INVALID_FORMAT, str(err))
        return
    auth.audit.record(connection.user, "create_token", msg["client_name"], "ok", connection.remote)
    connection.send_result(msg["id"], token)


async def handle_list_tokens(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """List the user's live tokens (HA's auth/refresh_tokens)."""
    auth = hub.require_auth()
    current = getattr(connection.token, "id", None)
    now = auth.clock.utcnow()
    tokens = await auth.list_tokens(connection.user.id)
    connection.send_result(
        msg["id"], [token_as_dict(t, current) for t in tokens if t.is_valid(now)]
    )


async def handle_delete_token(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Revoke one of the user's own tokens (HA's auth/delete_refresh_token)."""
    auth = hub.require_auth()
    token_id = msg["refresh_token_id"]
    owned = {t.id for t in await auth.list_tokens(connection.user.id)}
    if token_id not in owned or not await auth.revoke_token(token_id):
        connection.send_error(msg["id"], messages.ERR_NOT_FOUND, "Received invalid token")
        return
    auth.audit.record(connection.user, "revoke_token", token_id, "ok", connection.remote)
    connection.send_result(msg["id"], {})


async def handle_audit_list(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Return audit rows, newest first (admins only)."""
    entries = await hub.require_auth().audit.entries(msg["limit"], msg.get("user_id"), msg.get("action"))
    connection.send_result(msg["id"], [entry.as_dict() for entry in entries])


def register_auth_commands(registry: CommandRegistry) -> None:
    """Register the user, token and audit commands."""
    registry.register("auth/current_user", handle_current_user, {})
    registry.register(
        "auth/long_lived_access_token",
        handle_long_lived_token,
        {
            vol.Required("client_name"): vol.All(str, vol.Length(min=1, max=255)),
            vol.Required("lifespan"): vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False)),
            vol.Optional("client_icon"): vol.Any(str, None),
        },
    )
    registry.register("auth/refresh_tokens", handle_list_tokens, {})
    registry.register(
        "auth/delete_refresh_token", handle_delete_token, {vol.Required("refresh_token_id"): str}
    )
    registry.register(
        "audit/list",
        handle_audit_list,
        {
            vol.Optional("limit", default=100): vol.All(int, vol.Range(min=1, max=10_000)),
            vol.Optional("user_id"): str,
            vol.Optional("action"): str,
        },
        admin_only=True,
    )
