"""Persistent notifications: messages kept in the database and shown in the web UI until dismissed.

Services as in Home Assistant: `persistent_notification.create` {message, title?,
notification_id?}, `persistent_notification.dismiss` {notification_id}, and
`persistent_notification.dismiss_all`. WebSocket: `persistent_notification/get` (the list),
`persistent_notification/subscribe` (a "current" event, then "added"/"updated"/"removed"),
and `notify/list`, `notify/dismiss` {notification_id | notification_ids} for the web UI.
Enabled by `persistent_notification:` or by the notify integration, which depends on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from hub.core.runtime import HubKey
from hub.exceptions import ServiceValidationError, TemplateError
from hub.templating import Template
from hub.util import new_ulid
from integrations.notify.persistent.store import Notification, NotificationStore

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.core.services import ServiceCall

DOMAIN = "persistent_notification"
CONFIG_SCHEMA = vol.Schema(vol.Any(None, {}))
NOTIFICATIONS: HubKey[NotificationStore] = HubKey("persistent_notification")

CREATE_SCHEMA = vol.Schema(
    {
        vol.Required("message"): vol.Coerce(str),
        vol.Optional("title"): vol.Any(None, vol.Coerce(str)),
        vol.Optional("notification_id"): vol.All(vol.Coerce(str), vol.Length(min=1, max=255)),
    }
)
DISMISS_SCHEMA = vol.Schema({vol.Required("notification_id"): vol.All(vol.Coerce(str), vol.Length(min=1, max=255))})


def store_of(hub: Hub) -> NotificationStore | None:
    """Return the hub's notification store, or None when the integration is not set up."""
    return hub.runtime.get(NOTIFICATIONS)


def render(hub: Hub, text: str | None, variables: dict[str, Any] | None = None) -> str | None:
    """Render a message or title template to text; raise ServiceValidationError naming the cause."""
    if text is None:
        return None
    try:
        return str(Template(text, hub).render(variables or {}, parse_result=False))
    except TemplateError as err:
        message = f"Error rendering {text!r}: {err}"
        raise ServiceValidationError(message) from err


async def create(hub: Hub, message: str, title: str | None = None, notification_id: str | None = None) -> Notification:
    """Store a notification (replacing one with the same id) and return it."""
    store = store_of(hub)
    if store is None:
        raise ServiceValidationError("persistent_notification is not set up")
    return await store.create(message, title, notification_id or new_ulid().lower(), hub.clock.utcnow())


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Load kept notifications and register the services."""
    store = NotificationStore(hub)
    await store.load()
    hub.runtime[NOTIFICATIONS] = store

    async def create_service(call: ServiceCall) -> None:
        await create(
            hub,
            render(hub, call.data["message"]) or "",
            render(hub, call.data.get("title")),
            call.data.get("notification_id"),
        )

    async def dismiss_service(call: ServiceCall) -> None:
        await store.dismiss([call.data["notification_id"]])

    async def dismiss_all_service(call: ServiceCall) -> None:
        await store.dismiss([n.notification_id for n in store.all()])

    # Described in services.yaml next to this file.
    hub.services.register(DOMAIN, "create", create_service, CREATE_SCHEMA)
    hub.services.register(DOMAIN, "dismiss", dismiss_service, DISMISS_SCHEMA)
    hub.services.register(DOMAIN, "dismiss_all", dismiss_all_service, vol.Schema({}))


def _store_or_error(connection: Any, msg: dict[str, Any], hub: Hub) -> NotificationStore | None:
    store = store_of(hub)
    if store is None:
        connection.send_error(msg["id"], "not_found", "Persistent notifications are not set up")
    return store


async def ws_get(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer persistent_notification/get and notify/list: the notifications, oldest first."""
    store = _store_or_error(connection, msg, hub)
    if store is not None:
        connection.send_result(msg["id"], [n.as_dict() for n in store.all()])


async def ws_subscribe(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer persistent_notification/subscribe: the current set, then each change."""
    store = _store_or_error(connection, msg, hub)
    if store is None:
        return
    msg_id = msg["id"]

    def forward(kind: str, notifications: dict[str, dict[str, Any]]) -> None:
        connection.send_event(msg_id, {"type": kind, "notifications": notifications})

    unsubscribe: Callable[[], None] = store.listen(forward)
    connection.subscriptions[msg_id] = unsubscribe
    connection.send_result(msg_id)
    connection.send_event(msg_id, {"type": "current", "notifications": {n.notification_id: n.as_dict() for n in store.all()}})


async def ws_dismiss(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer notify/dismiss: remove one or more notifications; audit who did it."""
    store = _store_or_error(connection, msg, hub)
    if store is None:
        return
    ids = list(msg.get("notification_ids") or [])
    if msg.get("notification_id"):
        ids.append(msg["notification_id"])
    if not ids:
        connection.send_error(msg["id"], "invalid_format", "Give notification_id or notification_ids")
        return
    removed = await store.dismiss(ids)
    audit = getattr(getattr(hub, "auth", None), "audit", None)
    if audit is not None:
        audit.record(connection.user, "dismiss_notification", ",".join(ids), "ok" if removed else "not_found")
    if not removed:
        connection.send_error(msg["id"], "not_found", f"No notification {', '.join(ids)}")
        return
    connection.send_result(msg["id"], {"dismissed": removed})


@hookimpl
def register_websocket_commands(hub: Hub, register: Callable[..., Any]) -> None:
    """Offer the notification list, its subscription and dismissal to WebSocket clients."""
    register("persistent_notification/get", ws_get, {})
    register("persistent_notification/subscribe", ws_subscribe, {})
    register("notify/list", ws_get, {})
    register(
        "notify/dismiss",
        ws_dismiss,
        {vol.Optional("notification_id"): str, vol.Optional("notification_ids"): [str]},
    )
