"""The `scene` integration: scenes.yaml, scene.turn_on/apply/create/delete/reload.

Applying a scene reproduces each entity's state through its domain's services (turn_on with
the attributes as data, turn_off, set_value, select_option), as Home Assistant does.

Scenes made with `scene.create` are kept in `<data dir>/scene.created` (Home Assistant keeps
them in memory only, so they are gone after a restart): they come back after a restart and a
reload, until `scene.delete` removes them. The device API (/api/v1/scenes, scenes_api.py)
shows both kinds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.config import InvalidConfig, ensure_list
from automations.config_store import register_config_routes
from automations.ha_storage import ItemsFile
from automations.loader import build_each, reload_section
from hub import hookimpl
from hub.config import ConfigIssue
from hub.config.objects import get_location
from hub.core.context import Context
from hub.core.entity import Entity
from hub.core.runtime import HubKey
from hub.core.services import ServiceCall
from hub.core.states import STATE_OFF, STATE_ON, valid_entity_id
from hub.exceptions import ServiceValidationError
from hub.util import slugify

if TYPE_CHECKING:
    from aiohttp import web

    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DOMAIN = "scene"
SCENES: HubKey[dict[str, SceneEntity]] = HubKey("scene")
CONFIG_SCHEMA = vol.Any(None, list, dict)
LABELLED_SECTIONS = "list"
_VALUE_DOMAINS = {
    "number": "set_value",
    "input_number": "set_value",
    "text": "set_value",
    "input_text": "set_value",
    "select": "select_option",
    "input_select": "select_option",
}
_ATTRIBUTE_DOMAINS = {"light", "fan", "climate", "cover", "media_player", "humidifier", "water_heater"}
_SKIP_ATTRS = {
    "friendly_name", "icon", "unit_of_measurement", "device_class", "supported_features", "state_class",
    "options", "min", "max", "step", "mode", "restored",
}


def parse_entities(value: Any, node: Any = None) -> dict[str, dict[str, Any]]:
    """`{entity_id: "on" | {state: ..., attr: ...}}` -> {entity_id: {"state": ..., attrs...}}."""
    if not isinstance(value, Mapping):
        raise InvalidConfig("expected a mapping of entity_id to state for 'entities'", node, "entities")
    result = {}
    for entity_id, target in value.items():
        if not isinstance(entity_id, str) or not valid_entity_id(entity_id.lower()):
            raise InvalidConfig(f"invalid entity_id {entity_id!r}", node, "entities")
        if isinstance(target, Mapping):
            result[entity_id.lower()] = dict(target)
        else:
            state = STATE_ON if target is True else STATE_OFF if target is False else target
            result[entity_id.lower()] = {"state": None if state is None else str(state)}
    return result


async def reproduce(hub: Hub, entities: Mapping[str, Mapping[str, Any]], context: Context, transition: Any = None) -> None:
    """Bring each entity to its target state through its domain's services."""
    calls = []
    for entity_id, target in entities.items():
        domain = entity_id.partition(".")[0]
        state = target.get("state")
        attrs = {k: v for k, v in target.items() if k != "state" and k not in _SKIP_ATTRS}
        if transition is not None and state == STATE_ON:
            attrs["transition"] = transition
        if domain in _VALUE_DOMAINS and state is not None:
            service = _VALUE_DOMAINS[domain]
            key = "option" if service == "select_option" else "value"
            calls.append((domain, service, {"entity_id": entity_id, key: state}))
        elif state in (STATE_ON, STATE_OFF):
            # Only domains whose turn_on takes state attributes (brightness, speed...) get them.
            extra = attrs if state == STATE_ON and domain in _ATTRIBUTE_DOMAINS else {}
            data = {"entity_id": entity_id, **extra}
            calls.append((domain, f"turn_{state}", data))
        else:
            _LOGGER.warning("Scene: cannot reproduce state %r of %s", state, entity_id)
    results = await asyncio.gather(
        *(hub.services.call(d, s, data, context=context) for d, s, data in calls if hub.services.has_service(d, s)),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            _LOGGER.warning("Scene: %s", result)


class SceneEntity(Entity):
    """scene.<name>: its state is when it was last activated."""

    domain = "scene"

    # Built for one hub, under an entity_id known from the start.
    hub: Hub
    entity_id: str

    def __init__(
        self,
        hub: Hub,
        name: str,
        entities: dict[str, dict[str, Any]],
        scene_id: str | None = None,
        created: bool = False,
        icon: str | None = None,
    ) -> None:
        self.hub = hub
        self.name = name
        self.icon = icon
        self.scene_id = scene_id
        self.entity_id = f"scene.{slugify(scene_id if created and scene_id else name)}"
        self.entities = entities
        self.created = created
        self.activated: Any = None
        self.config_source: Any = None  # the YAML item it was built from (for file:line)

    def state_value(self) -> Any:
        """The last activation time (unknown before the first)."""
        return self.activated

    def state_attributes(self) -> dict[str, Any]:
        """entity_id list, id and friendly_name."""
        attrs: dict[str, Any] = {"entity_id": list(self.entities), "friendly_name": self.name}
        if self.scene_id:
            attrs["id"] = self.scene_id
        if self.icon:
            attrs["icon"] = self.icon
        return attrs

    async def activate(self, context: Context, transition: Any = None) -> None:
        """Apply the scene and record when."""
        await reproduce(self.hub, self.entities, context, transition)
        self.activated = self.hub.clock.utcnow().isoformat()
        self.write_state(context)


def scenes(hub: Hub) -> dict[str, SceneEntity]:
    """Scenes by entity_id."""
    return hub.runtime.setdefault(SCENES, dict)


def created_file(hub: Hub) -> ItemsFile:
    """The file that keeps the scenes made with scene.create."""
    return ItemsFile(hub, "scene.created")


def save_created(hub: Hub) -> None:
    """Write every scene made with scene.create (called after each change)."""
    items = [
        {"id": e.scene_id, "name": e.name, "entities": e.entities, **({"icon": e.icon} if e.icon else {})}
        for e in scenes(hub).values() if e.created
    ]
    created_file(hub).save(items)


async def add_created(hub: Hub, scene_id: str, targets: dict[str, dict[str, Any]], name: str | None = None,
                      icon: str | None = None) -> SceneEntity:
    """Add a scene as scene.create makes it (kept across restarts); return it."""
    entity = SceneEntity(hub, name or scene_id, targets, scene_id, created=True, icon=icon)
    await hub.entities.add(entity, DOMAIN)
    scenes(hub)[entity.entity_id] = entity
    return entity


async def _restore_created(hub: Hub) -> None:
    for item in created_file(hub).load():
        scene_id = str(item["id"])
        try:
            targets = parse_entities(item.get("entities") or {})
        except InvalidConfig as err:
            _LOGGER.error("The created scene %s in %s is skipped: %s", scene_id, created_file(hub).path, err)
            continue
        if f"scene.{slugify(scene_id)}" in scenes(hub):
            _LOGGER.warning("The created scene %s is skipped: scenes.yaml has a scene with its entity id", scene_id)
            continue
        await add_created(hub, scene_id, targets, item.get("name"), item.get("icon"))


def _build_all(hub: Hub, section: Any, *, check: bool = False) -> tuple[list[tuple[str, SceneEntity]], list[Any]]:
    def build(config: Any, raw: Any, key: str) -> SceneEntity:
        if not isinstance(config, Mapping) or "name" not in config:
            raise InvalidConfig("required key not provided: 'name'", config)
        scene = SceneEntity(hub, str(config["name"]), parse_entities(config.get("entities") or {}, config), config.get("id"), icon=config.get("icon"))
        scene.config_source = raw
        return scene

    built, issues = build_each(hub, DOMAIN, [(f"[{i}]", raw) for i, raw in enumerate(ensure_list(section))], build,
                               check=check)
    kept, duplicates = _without_duplicates(hub, built, check=check)
    return kept, [*duplicates, *issues]


def _without_duplicates(hub: Hub, built: list[tuple[str, SceneEntity]], *,
                        check: bool = False) -> tuple[list[tuple[str, SceneEntity]], list[Any]]:
    """The scenes whose id and entity_id no earlier scene has, and an issue for each of the others
    (the first keeps them; a later copy is skipped, never silently put in the first one's place)."""
    base_dir = str(hub.config.config_dir) if hub.config.config_dir else None
    kept: list[tuple[str, SceneEntity]] = []
    issues: list[Any] = []
    first: dict[tuple[str, str], SceneEntity] = {}
    for key, entity in built:
        claims = [("entity_id", entity.entity_id)] + ([("id", str(entity.scene_id))] if entity.scene_id else [])
        taken = next((claim for claim in claims if claim in first), None)
        if taken is None:
            first.update(dict.fromkeys(claims, entity))
            kept.append((key, entity))
            continue
        what, value = taken
        other = first[taken]
        field = "name" if what == "entity_id" else "id"
        where = ":".join(str(part) for part in get_location(other.config_source) if part is not None) or "above"
        if base_dir and where.startswith(base_dir.rstrip("/") + "/"):
            where = where[len(base_dir.rstrip("/")) + 1 :]
        message = f"{what} {value!r} is used by another scene ({where}); this one is skipped: give it its own {field}"
        file, line = get_location(entity.config_source)
        issue = ConfigIssue(file, line, f"{DOMAIN}{key}.{field}", message, base_dir)
        if not check:
            _LOGGER.error("Invalid %s, skipped: %s", DOMAIN, issue.format(base_dir))
        issues.append(issue)
    return kept, issues


def check_scenes(hub: Hub, section: Any) -> list[Any]:
    """Build every scene of section without adding it; return the problems found."""
    return _build_all(hub, section, check=True)[1]


@hookimpl
def check_integration_config(hub: Hub, config: Any) -> list[Any]:
    """Build every scene (blueprints resolved) and return the problems found, repeated ids included."""
    return check_scenes(hub, config)


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """The scene.* entities the section makes."""
    return [entity.entity_id for _, entity in _build_all(hub, config, check=True)[0]]


async def load(hub: Hub, section: Any) -> list[Any]:
    """(Re)load the YAML scenes; scenes made with scene.create stay."""
    current = scenes(hub)
    for entity_id, entity in list(current.items()):
        if not entity.created:
            current.pop(entity_id)
            await hub.entities.remove(entity_id)

    built, issues = _build_all(hub, section)
    for _key, entity in built:
        if entity.entity_id in current:
            holder = "a scene made with scene.create" if current[entity.entity_id].created else "another scene"
            _LOGGER.error("The scene %s of scenes.yaml is skipped: %s has its entity id", entity.entity_id, holder)
            continue
        await hub.entities.add(entity, DOMAIN)
        current[entity.entity_id] = entity
    return issues


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Load scenes.yaml and the created scenes, and register the scene services."""
    await load(hub, config)
    await _restore_created(hub)

    async def turn_on(call: ServiceCall) -> None:
        for entity_id in call.entity_ids or []:
            entity = scenes(hub).get(entity_id)
            if entity is not None:
                await entity.activate(call.context, call.data.get("transition"))

    async def apply(call: ServiceCall) -> None:
        await reproduce(hub, parse_entities(call.data["entities"]), call.context, call.data.get("transition"))

    async def create(call: ServiceCall) -> None:
        scene_id = call.data["scene_id"]
        entity_id = f"scene.{scene_id}"
        existing = scenes(hub).get(entity_id)
        if existing is not None and not existing.created:
            _LOGGER.warning("The scene %s is defined in YAML and cannot be replaced by scene.create", entity_id)
            return
        targets: dict[str, dict[str, Any]] = {}
        for snapshot in ensure_list(call.data.get("snapshot_entities")):
            state = hub.states.get(snapshot)
            if state is None:
                raise ServiceValidationError(f"Entity {snapshot} does not exist and cannot be snapshotted")
            targets[snapshot] = {"state": state.state, **state.attributes}
        targets.update(parse_entities(call.data.get("entities") or {}))
        if not targets:
            raise ServiceValidationError("scene.create needs entities or snapshot_entities")
        if existing is not None:
            existing.entities = targets
            existing.write_state()
        else:
            await add_created(hub, scene_id, targets)
        save_created(hub)

    async def delete(call: ServiceCall) -> None:
        for entity_id in call.entity_ids or []:
            entity = scenes(hub).get(entity_id)
            if entity is None or not entity.created:
                raise ServiceValidationError(f"The scene {entity_id} was not created with scene.create")
            scenes(hub).pop(entity_id)
            await hub.entities.remove(entity_id)
        save_created(hub)

    async def reload(call: ServiceCall) -> None:
        await load(hub, reload_section(hub, DOMAIN))

    target = {vol.Optional("entity_id"): vol.Any(str, [str])}
    hub.services.register(DOMAIN, "turn_on", turn_on, vol.Schema({**target, vol.Optional("transition"): vol.Coerce(float)}))
    hub.services.register(DOMAIN, "apply", apply, vol.Schema({vol.Required("entities"): dict, vol.Optional("transition"): vol.Coerce(float)}))
    create_schema = vol.Schema(
        {vol.Required("scene_id"): vol.Match(r"^[a-z0-9_]+$"), vol.Optional("entities"): dict, vol.Optional("snapshot_entities"): vol.Any(str, [str])}
    )
    hub.services.register(DOMAIN, "create", create, create_schema)
    hub.services.register(DOMAIN, "delete", delete, vol.Schema(target))
    hub.services.register(DOMAIN, "reload", reload, vol.Schema({}))


@hookimpl
def register_http_routes(hub: Hub, app: web.Application) -> None:
    """The device API's scenes: /api/v1/scenes (scenes_api.py), and Home Assistant's config API."""
    from automations.scenes_api import register_scene_routes  # noqa: PLC0415 - it imports this module

    register_scene_routes(app)
    register_config_routes(app)
