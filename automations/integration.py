"""The `automation` integration: automations.yaml, automation.* services, traces over WebSocket, webhooks."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.actions import compile_sequence
from automations.automation import EVENT_AUTOMATION_RELOADED, AutomationEntity
from automations.conditions import compile_conditions, render_value
from automations.config import (
    ensure_list,
    normalize_actions,
    normalize_automation,
    normalize_conditions,
    normalize_triggers,
)
from automations.config_store import register_config_routes
from automations.loader import CONFIG_ISSUES, build_each, reload_section
from automations.trace import _jsonable, get_trace_store, run_metrics
from automations.triggers import attach_triggers, load_platforms, validate_trigger
from automations.triggers.webhook import handle_webhook
from hub import hookimpl
from hub.config import ConfigIssue
from hub.config.objects import get_location
from hub.core.runtime import HubKey
from hub.core.services import ServiceCall
from hub.exceptions import HubError

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client.core import Metric

    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DOMAIN = "automation"
AUTOMATIONS: HubKey[dict[str, AutomationEntity]] = HubKey("automation")

# Each automation is checked on its own at setup, so one bad automation never stops the hub.
CONFIG_SCHEMA = vol.Any(None, list, dict)
# `automation manual:` beside `automation: !include automations.yaml`: one list of automations.
LABELLED_SECTIONS = "list"


def automations(hub: Hub) -> dict[str, AutomationEntity]:
    """The loaded automations by key (their id, else their position)."""
    return hub.runtime.setdefault(AUTOMATIONS, dict)


def _items(section: Any, base_dir: str | None = None) -> tuple[list[tuple[str, Any]], list[ConfigIssue]]:
    """The automations by key (their id, else their position), and an issue for each repeated id
    (the first keeps it; a later copy is skipped, never silently put in the first one's place)."""
    items: list[tuple[str, Any]] = []
    issues: list[ConfigIssue] = []
    first: dict[str, Any] = {}
    for index, raw in enumerate(ensure_list(section)):
        key = str(raw["id"]) if isinstance(raw, dict) and raw.get("id") is not None else f"[{index}]"
        if key in first:
            file, line = get_location(raw)
            where = ":".join(str(part) for part in get_location(first[key]) if part is not None) or "above"
            if base_dir and where.startswith(base_dir.rstrip("/") + "/"):
                where = where[len(base_dir.rstrip("/")) + 1 :]
            message = f"id {key!r} is used by another automation ({where}); this one is skipped: give it its own id"
            issues.append(ConfigIssue(file, line, f"{DOMAIN}[{index}].id", message, base_dir))
            continue
        first[key] = raw
        items.append((key, raw))
    return items, issues


async def load(hub: Hub, section: Any) -> list[Any]:
    """Build every automation in section, keep unchanged ones running, replace the others."""
    current = automations(hub)
    base_dir = str(hub.config.config_dir) if hub.config.config_dir else None
    items, duplicates = _items(section, base_dir)
    for issue in duplicates:
        _LOGGER.error("Invalid %s, skipped: %s", DOMAIN, issue.format(base_dir))
    keyed = dict(items)
    index_of = {key: i for i, key in enumerate(keyed)}
    built, issues = build_each(
        hub,
        DOMAIN,
        [(key, raw) for key, raw in keyed.items() if not (key in current and current[key].config_source == raw)],
        lambda config, raw, key: _entity(hub, config, raw, index_of[key]),
    )
    # Stop what disappeared or changed, then add the new ones.
    for key in list(current):
        if key not in keyed or any(key == k for k, _ in built):
            entity = current.pop(key)
            await hub.entities.remove(entity.entity_id)
    for key, entity in built:
        await hub.entities.add(entity, DOMAIN)
        current[key] = entity
    hub.runtime.setdefault(CONFIG_ISSUES, dict)[DOMAIN] = [*duplicates, *issues]
    return [*duplicates, *issues]


@hookimpl
async def check_integration_config(hub: Hub, config: Any) -> list[Any]:
    """Compile every automation (blueprints resolved) and return the problems found."""
    await load_platforms(hub)
    items, duplicates = _items(config, str(hub.config.config_dir) if hub.config.config_dir else None)
    index_of = {key: i for i, (key, _) in enumerate(items)}
    _, issues = build_each(hub, DOMAIN, items, lambda conf, raw, key: _entity(hub, conf, raw, index_of[key]), check=True)
    return [*duplicates, *issues]


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """The automation.* entities the section makes."""
    items, _ = _items(config)
    index_of = {key: i for i, (key, _) in enumerate(items)}
    built, _ = build_each(hub, DOMAIN, items, lambda conf, raw, key: _entity(hub, conf, raw, index_of[key]), check=True)
    return [entity.entity_id for _, entity in built]


def _entity(hub: Hub, config: Any, raw: Any, index: int) -> AutomationEntity:
    normalized = normalize_automation(config)
    entity = AutomationEntity(hub, normalized, index)
    entity.config_source = raw
    return entity


def _targets(hub: Hub, call: ServiceCall) -> list[AutomationEntity]:
    return [e for e in hub.entities.entities_for(call, DOMAIN) if isinstance(e, AutomationEntity)]


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Load automations.yaml and register the automation services."""
    await load_platforms(hub)
    await load(hub, config)
    get_trace_store(hub)

    async def trigger(call: ServiceCall) -> None:
        for entity in _targets(hub, call):
            await entity.trigger(call.data.get("variables"), call.data.get("skip_condition", True), call.context)

    async def turn_on(call: ServiceCall) -> None:
        for entity in _targets(hub, call):
            await entity.turn_on()

    async def turn_off(call: ServiceCall) -> None:
        for entity in _targets(hub, call):
            await entity.turn_off(stop_actions=call.data.get("stop_actions", True))

    async def toggle(call: ServiceCall) -> None:
        for entity in _targets(hub, call):
            await entity.toggle()

    async def reload(call: ServiceCall) -> None:
        section = reload_section(hub, DOMAIN)
        await load_platforms(hub)
        await load(hub, section)
        hub.bus.fire(EVENT_AUTOMATION_RELOADED, {}, context=call.context)

    target = {vol.Optional("entity_id"): vol.Any(str, [str]), vol.Optional("device_id"): vol.Any(str, [str]),
              vol.Optional("area_id"): vol.Any(str, [str])}
    trigger_schema = vol.Schema({**target, vol.Optional("skip_condition", default=True): bool, vol.Optional("variables"): dict})
    hub.services.register(DOMAIN, "trigger", trigger, trigger_schema)
    hub.services.register(DOMAIN, "turn_on", turn_on, vol.Schema(target))
    hub.services.register(DOMAIN, "turn_off", turn_off, vol.Schema({**target, vol.Optional("stop_actions", default=True): bool}))
    hub.services.register(DOMAIN, "toggle", toggle, vol.Schema(target))
    hub.services.register(DOMAIN, "reload", reload, vol.Schema({}))


@hookimpl
def collect_metrics(hub: Hub) -> list[Metric]:
    """Report the finished automation runs by outcome."""
    return run_metrics(hub, DOMAIN)


@hookimpl
def register_http_routes(hub: Hub, app: web.Application) -> None:
    """The webhook endpoint (any method, answered per the webhook trigger's allowed_methods),
    Home Assistant's config API for automations, scripts and scenes, and the device API's rules."""
    from automations import rules_api  # noqa: PLC0415 - it imports this module

    app.router.add_route("*", "/api/webhook/{webhook_id}", handle_webhook)
    register_config_routes(app)
    rules_api.add_routes(app, hub)


async def ws_trace_list(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """trace/list: summaries of the stored traces of a domain (or one item)."""
    connection.send_result(msg["id"], get_trace_store(hub).list(msg["domain"], msg.get("item_id")))


async def ws_trace_get(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """trace/get: one full trace."""
    trace = get_trace_store(hub).get(msg["domain"], msg["item_id"], msg["run_id"])
    if trace is None:
        connection.send_error(msg["id"], "not_found", "The trace could not be found")
        return
    connection.send_result(msg["id"], trace)


async def ws_automation_config(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """automation/config: the configuration of an automation entity."""
    entity = hub.entities.get(msg["entity_id"])
    if not isinstance(entity, AutomationEntity):
        connection.send_error(msg["id"], "not_found", "Entity not found")
        return
    connection.send_result(msg["id"], {"config": _jsonable(entity.config)})


def _check_part(hub: Hub, kind: str, value: Any) -> None:
    """Compile a trigger, condition or action list as an automation's would be; raise what is wrong."""
    if kind == "trigger":
        for trigger in normalize_triggers(value):
            validate_trigger(hub, trigger)
    elif kind == "condition":
        compile_conditions(hub, list[Mapping[str, Any]](normalize_conditions(value)))
    else:
        compile_sequence(hub, normalize_actions(value), "action")


async def ws_validate_config(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """validate_config (HA's): {trigger|condition|action: {valid, error}} for each part given."""
    await load_platforms(hub)
    result = {}
    for kind in ("trigger", "condition", "action"):
        if kind not in msg:
            continue
        try:
            _check_part(hub, kind, msg[kind])
        except (HubError, vol.Invalid, ValueError, TypeError) as err:
            result[kind] = {"valid": False, "error": str(err)}
        else:
            result[kind] = {"valid": True, "error": None}
    connection.send_result(msg["id"], result)


async def ws_subscribe_trigger(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """subscribe_trigger (HA's, admins): an event `{variables: {trigger}, context}` each time it fires."""
    await load_platforms(hub)
    try:
        triggers = normalize_triggers(msg["trigger"])
        for trigger in triggers:
            validate_trigger(hub, trigger)
    except (HubError, vol.Invalid) as err:
        connection.send_error(msg["id"], "invalid_format", str(err))
        return
    variables = dict(msg.get("variables") or {})
    user = getattr(connection.user, "name", "?")

    def fired(payload: dict[str, Any], context: Any = None, _vars: Any = None) -> None:
        event = {"variables": {**variables, "trigger": _jsonable(payload)}, "context": _jsonable(context)}
        connection.send_event(msg["id"], event)

    info = {
        "name": f"subscribe_trigger of {user}",
        "variables": variables,
        "render": lambda value: render_value(hub, value, variables) if isinstance(value, str | dict | list) else value,
    }
    detach = await attach_triggers(hub, list[Mapping[str, Any]](triggers), fired, info)
    connection.subscriptions[msg["id"]] = detach
    connection.send_result(msg["id"])


@hookimpl
def register_websocket_commands(hub: Hub, register: Any) -> None:
    """trace/list, trace/get, automation/config, validate_config and subscribe_trigger."""
    register("validate_config", ws_validate_config,
             {vol.Optional("trigger"): object, vol.Optional("condition"): object, vol.Optional("action"): object})
    register("subscribe_trigger", ws_subscribe_trigger,
             {vol.Required("trigger"): object, vol.Optional("variables"): dict}, admin_only=True)
    register("trace/list", ws_trace_list, {vol.Required("domain"): str, vol.Optional("item_id"): str})
    register("trace/get", ws_trace_get, {vol.Required("domain"): str, vol.Required("item_id"): str, vol.Required("run_id"): str})
    register("automation/config", ws_automation_config, {vol.Required("entity_id"): str})
