"""Notify: `notify.<name>` services that send templated messages to people.

Each target in the `notify:` list (see config.py) becomes `notify.<name>`; `notify.notify`
sends to every configured target, and `notify.persistent_notification` shows the message
in the web UI. Service data as in Home Assistant's notify: message (template), title
(template), target (email recipients for smtp), data (platform extras: ntfy priority, tags,
click, topic; email html; `throttle_key` to choose the de-duplication key).

An alert storm sends one message per key per throttle window (default 60 s; the key is
target + title + message); the next one says how many were held back. A failed delivery is
retried with backoff, logged and fired as a `notify_failed` event; the caller waits at most
the target's timeout.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import voluptuous as vol
import yaml

from hub import hookimpl
from integrations.notify import group, persistent
from integrations.notify.config import CONFIG_SCHEMA, LABELLED_SECTIONS
from integrations.notify.message import Message
from integrations.notify.target import EVENT_NOTIFY_FAILED, Target

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.core.services import ServiceCall

__all__ = ["CONFIG_SCHEMA", "LABELLED_SECTIONS", "EVENT_NOTIFY_FAILED", "Message", "Target"]

_LOGGER = logging.getLogger(__name__)
DOMAIN = "notify"

SERVICE_SCHEMA = vol.Schema(
    {
        vol.Required("message"): vol.Coerce(str),
        vol.Optional("title"): vol.Any(None, vol.Coerce(str)),
        vol.Optional("target"): vol.Any(None, vol.All(vol.Any(str, [str]), lambda v: [v] if isinstance(v, str) else v)),
        vol.Optional("data"): vol.Any(None, dict),
    }
)
# The fields of notify.notify in services.yaml, which every notify.<target> service shares.
DESCRIPTION_FIELDS: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "services.yaml").read_text(encoding="utf-8")
)["notify"]["fields"]


def _render_data(hub: Hub, data: dict[str, Any] | None, variables: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (data or {}).items():
        out[key] = persistent.render(hub, value, variables) if isinstance(value, str) else value
    return out


def build_message(hub: Hub, call: ServiceCall) -> Message:
    """Render a notify call's templates into a Message."""
    variables: dict[str, Any] = {}
    return Message(
        message=persistent.render(hub, call.data["message"], variables) or "",
        title=persistent.render(hub, call.data.get("title"), variables),
        data=_render_data(hub, call.data.get("data"), variables),
        target=list(call.data.get("target") or []),
    )


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Create a target per configured entry and register notify.<name> for each."""
    clock = hub.clock
    session = aiohttp.ClientSession()
    hub.on_stop(session.close)
    entries = CONFIG_SCHEMA(config) or []
    targets = [Target(hub, entry, clock, session) for entry in entries if entry["platform"] != "group"]
    for entry in entries:
        if entry["platform"] == "group":
            members = ", ".join(f"notify.{member['action']}" for member in entry["services"])
            hub.services.register(DOMAIN, entry["name"], group.make_handler(hub, entry["name"], entry["services"]), SERVICE_SCHEMA,
                                  description={"name": f"Send to {entry['name']}", "description": f"Send to {members}.",
                                               "fields": DESCRIPTION_FIELDS})

    def make_handler(target: Target) -> Any:
        async def handle(call: ServiceCall) -> None:
            await target.notify(build_message(hub, call), call.context)

        return handle

    for target in targets:
        hub.services.register(
            DOMAIN, target.name, make_handler(target), SERVICE_SCHEMA,
            description={"name": f"Send to {target.name}", "description": f"Send a notification with {target.platform}.",
                         "fields": DESCRIPTION_FIELDS},
        )

    async def to_persistent(call: ServiceCall) -> None:
        message = build_message(hub, call)
        await persistent.create(hub, message.message, message.title, message.data.get("notification_id"))

    async def to_all(call: ServiceCall) -> None:
        message = build_message(hub, call)
        if not targets:
            await persistent.create(hub, message.message, message.title, message.data.get("notification_id"))
        # Concurrently, so the caller waits for the slowest target's timeout, not their sum.
        await asyncio.gather(*(
            target.notify(Message(message.message, message.title, dict(message.data), list(message.target)),
                          call.context)
            for target in targets
        ))

    # Described in services.yaml next to this file.
    hub.services.register(DOMAIN, "persistent_notification", to_persistent, SERVICE_SCHEMA)
    hub.services.register(DOMAIN, "notify", to_all, SERVICE_SCHEMA)
    _LOGGER.info("notify: %d targets (%s)", len(targets), ", ".join(t.name for t in targets) or "none")
