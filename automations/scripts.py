"""The `script` integration: scripts.yaml, script.<name> services with fields, and their entities."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from automations.config import SCRIPT_KEYS, InvalidConfig, check_keys, normalize_actions
from automations.config_store import register_config_routes
from automations.loader import build_each, reload_section
from automations.script import DEFAULT_MAX, Script
from automations.trace import DEFAULT_STORED_TRACES, run_metrics
from hub import hookimpl
from hub.config import ConfigIssue
from hub.core.entity import Entity
from hub.core.runtime import HubKey
from hub.core.services import ServiceCall, SupportsResponse

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DOMAIN = "script"
SCRIPTS: HubKey[dict[str, ScriptEntity]] = HubKey("script")
CONFIG_SCHEMA = vol.Any(None, dict)
# `script extra:` beside `script:`: the scripts of every section, each name once.
LABELLED_SECTIONS = "mapping"
_RESERVED = {"turn_on", "turn_off", "toggle", "reload"}


class ScriptEntity(Entity):
    """script.<object_id>: on while it runs."""

    domain = "script"

    # Built for one hub, under an entity_id known from the start.
    hub: Hub
    entity_id: str

    def __init__(self, hub: Hub, object_id: str, config: Mapping[str, Any]) -> None:
        if object_id in _RESERVED:
            raise InvalidConfig(f"'{object_id}' is a reserved script name", config)
        check_keys(config, SCRIPT_KEYS, ("sequence",), "script")
        sequence = config["sequence"]
        self.hub = hub
        self.object_id = object_id
        self.entity_id = f"script.{object_id}"
        self.name = str(config.get("alias") or object_id.replace("_", " "))
        self.icon = config.get("icon")
        self.config = config
        self.fields = config.get("fields") or {}
        self.variables = config.get("variables") or {}
        self.last_triggered: Any = None
        self.script = Script(
            hub,
            normalize_actions(sequence),
            name=self.name,
            domain=DOMAIN,
            item_id=object_id,
            config=config,
            mode=config.get("mode", "single"),
            max_runs=config.get("max", DEFAULT_MAX),
            max_exceeded=config.get("max_exceeded", "warning"),
            stored_traces=int((config.get("trace") or {}).get("stored_traces", DEFAULT_STORED_TRACES)),
            on_change=self._changed,
        )

    def state_value(self) -> Any:
        """on while a run is in progress."""
        return self.script.is_running

    def state_attributes(self) -> dict[str, Any]:
        """last_triggered, mode, current, friendly_name."""
        attrs = {
            "last_triggered": self.last_triggered.isoformat() if self.last_triggered else None,
            "mode": self.script.mode,
            "current": self.script.runs,
            "friendly_name": self.name,
        }
        if self.icon:
            attrs["icon"] = self.icon
        return attrs

    def _changed(self) -> None:
        if self.hub.entities.get(self.entity_id) is self:
            self.write_state()

    def _variables(self, data: Mapping[str, Any]) -> dict[str, Any]:
        from automations.conditions import render_value  # noqa: PLC0415

        variables: dict[str, Any] = {}
        for name, field in self.fields.items():
            if isinstance(field, Mapping) and "default" in field and name not in data:
                variables[name] = field["default"]
        variables.update(data)
        state = self.hub.states.get(self.entity_id)
        from hub.templating import TemplateState  # noqa: PLC0415

        variables["this"] = TemplateState(self.hub, state) if state is not None else None
        for key, value in self.variables.items():
            variables[key] = render_value(self.hub, value, variables)
        return variables

    async def run(self, data: Mapping[str, Any], call: ServiceCall | None, wait: bool) -> Any:
        """Start a run; wait for it (script.<name>) or not (script.turn_on)."""
        from hub.core.context import Context  # noqa: PLC0415

        context = call.context if call is not None else Context()
        self.last_triggered = self.hub.clock.utcnow()
        task = self.script.start(self._variables(data), context)
        if task is None:
            return None
        if not wait:
            # As HA's script.turn_on: the run has begun (its first step started) when the call returns.
            await asyncio.sleep(0)
            return None
        return await task

    async def turn_off(self, **kwargs: Any) -> None:
        """Stop every run."""
        await self.script.stop()

    async def will_remove_from_hub(self) -> None:
        """Stop runs before removal."""
        await self.script.stop()


def scripts(hub: Hub) -> dict[str, ScriptEntity]:
    """Loaded scripts by object_id."""
    return hub.runtime.setdefault(SCRIPTS, dict)


async def load(hub: Hub, section: Any) -> list[Any]:
    """(Re)build every script; unchanged ones keep running."""
    current = scripts(hub)
    section = section or {}
    changed = [(key, raw) for key, raw in section.items() if not (key in current and current[key].config == raw)]
    built, issues = build_each(hub, DOMAIN, changed, lambda config, raw, key: ScriptEntity(hub, key, config))
    for key in list(current):
        if key not in section or any(key == k for k, _ in built):
            entity = current.pop(key)
            hub.services.remove(DOMAIN, key)
            await hub.entities.remove(entity.entity_id)
    for key, entity in built:
        entity.config = section[key]
        await hub.entities.add(entity, DOMAIN)
        current[key] = entity
        _register_service(hub, entity)
    return issues


def _register_service(hub: Hub, entity: ScriptEntity) -> None:
    async def handle(call: ServiceCall) -> Any:
        response = await entity.run(dict(call.data), call, wait=True)
        # A script without a stop response answers {} to a caller that asked (HA).
        return (response or {}) if call.return_response else None

    description = {
        "name": entity.name,
        "description": str(entity.config.get("description") or f"Runs the script {entity.name}."),
        "fields": entity.fields,
    }
    hub.services.register(DOMAIN, entity.object_id, handle, None, SupportsResponse.OPTIONAL, description)


def _targets(hub: Hub, call: ServiceCall) -> list[ScriptEntity]:
    return [e for e in hub.entities.entities_for(call, DOMAIN) if isinstance(e, ScriptEntity)]


@hookimpl
def collect_metrics(hub: Hub) -> list[Metric]:
    """Report the finished script runs by outcome."""
    return run_metrics(hub, DOMAIN)


@hookimpl
def check_integration_config(hub: Hub, config: Any) -> list[Any]:
    """Compile every script (blueprints resolved) and return the problems found."""
    _, issues = build_each(hub, DOMAIN, list((config or {}).items()), lambda conf, raw, key: ScriptEntity(hub, key, conf),
                           check=True)
    return [*_duplicate_keys(hub, config), *issues]


def _duplicate_keys(hub: Hub, config: Any) -> list[ConfigIssue]:
    """An issue for each script key given twice in one file (YAML keeps only the later one)."""
    base_dir = str(hub.config.config_dir) if hub.config.config_dir else None
    return [
        ConfigIssue(
            file, line, f"{DOMAIN}.{key}",
            f"script {key!r} is defined twice (lines {first} and {line}); only the second would run: give each its own key",
            base_dir,
        )
        for key, first, line, file in getattr(config, "duplicate_keys", [])
    ]


@hookimpl
def register_http_routes(hub: Hub, app: web.Application) -> None:
    """Home Assistant's config API, which edits scripts.yaml (also there without `automation:`)."""
    register_config_routes(app)


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """The script.* entities the section makes."""
    return [f"{DOMAIN}.{key}" for key in (config or {})]


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Load the scripts and register script.turn_on/turn_off/toggle/reload."""
    await load(hub, config)

    async def turn_on(call: ServiceCall) -> None:
        for entity in _targets(hub, call):
            await entity.run(call.data.get("variables") or {}, call, wait=False)

    async def turn_off(call: ServiceCall) -> None:
        for entity in _targets(hub, call):
            await entity.turn_off()

    async def toggle(call: ServiceCall) -> None:
        for entity in _targets(hub, call):
            if entity.script.is_running:
                await entity.turn_off()
            else:
                await entity.run({}, call, wait=False)

    async def reload(call: ServiceCall) -> None:
        await load(hub, reload_section(hub, DOMAIN))

    target = {vol.Optional("entity_id"): vol.Any(str, [str]), vol.Optional("device_id"): vol.Any(str, [str]),
              vol.Optional("area_id"): vol.Any(str, [str])}
    hub.services.register(DOMAIN, "turn_on", turn_on, vol.Schema({**target, vol.Optional("variables"): dict}))
    hub.services.register(DOMAIN, "turn_off", turn_off, vol.Schema(target))
    hub.services.register(DOMAIN, "toggle", toggle, vol.Schema(target))
    hub.services.register(DOMAIN, "reload", reload, vol.Schema({}))
