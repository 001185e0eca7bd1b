"""Scenes over the device API: /api/v1/scenes, the same scenes as scenes.yaml and scene.create.

    GET    /api/v1/scenes                 every scene (any role)
    POST   /api/v1/scenes                 add one to scenes.yaml (admins), 201
    GET    /api/v1/scenes/{id}            one scene (any role)
    PUT    /api/v1/scenes/{id}            change it (admins): in scenes.yaml, or in the created scenes
    DELETE /api/v1/scenes/{id}            remove it (admins)
    POST   /api/v1/scenes/{id}/activate   apply it (every role but read-only), audited

A scene's id is its `id:` in scenes.yaml, or the scene_id of scene.create. YAML scenes are
written through the config store (automations/config_store.py: checked like check-config,
written atomically, reloaded), the very path of Home Assistant's `config/scene/config` API.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from automations.api_v1 import (
    BodyError,
    FieldError,
    Items,
    Refusal,
    allowed,
    answer,
    audit,
    hub_of,
    pointer,
    read_object,
    refuse,
)
from automations.config_store import ConfigStore, ConfigStoreError
from automations.scenes import SceneEntity, parse_entities, save_created, scenes
from hub.api.keys import USER_KEY
from hub.core.context import Context
from hub.core.states import valid_entity_id
from hub.util import slugify

if TYPE_CHECKING:
    from hub.core.hub import Hub

ID_PATTERN = re.compile(r"^[a-z0-9_]{1,64}$")
_KEYS = {"id", "name", "icon", "entities"}


def scene_id_of(entity: SceneEntity) -> str:
    """The scene's id: its own, else its entity's object id."""
    return entity.scene_id or entity.entity_id.partition(".")[2]


def scene_as_dict(hub: Hub, entity: SceneEntity) -> dict[str, Any]:
    """A scene as the API shows it."""
    state = hub.states.get(entity.entity_id)
    activated = state.state if state is not None and state.state not in ("unknown", "unavailable") else None
    return {
        "id": scene_id_of(entity),
        "entity_id": entity.entity_id,
        "name": entity.name,
        "icon": entity.icon,
        "entities": entity.entities,
        "source": "created" if entity.created else "yaml",
        "editable": entity.created or entity.scene_id is not None,
        "last_activated": activated,
    }


def find(hub: Hub, scene_id: str) -> SceneEntity | None:
    """The scene with that id."""
    return next((e for e in scenes(hub).values() if scene_id_of(e) == scene_id), None)


SCENES = Items("scene", "scenes", find, conflicts=(ConfigStoreError,))


def check_body(body: dict[str, Any], *, with_id: bool) -> dict[str, Any]:
    """Return the scene config of a POST/PUT body (what scenes.yaml holds).

    Raises:
        BodyError: naming every wrong field by its JSON pointer.
    """
    errors = [FieldError(pointer(k), f"unknown field; expected {', '.join(sorted(_KEYS))}")
              for k in body if k not in _KEYS or (k == "id" and not with_id)]
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        errors.append(FieldError("/name", "required: a non-empty string of at most 255 characters"))
    if "icon" in body and body["icon"] is not None and not isinstance(body["icon"], str):
        errors.append(FieldError("/icon", "expected a string such as mdi:sofa, or null"))
    if with_id and "id" in body and (not isinstance(body["id"], str) or not ID_PATTERN.match(body["id"])):
        errors.append(FieldError("/id", "expected 1-64 lowercase letters, digits or underscores"))
    entities = body.get("entities")
    if not isinstance(entities, dict) or not entities:
        errors.append(FieldError("/entities", "required: an object of entity_id to a state or {state, attributes...}"))
    else:
        for entity_id, target in entities.items():
            where = pointer("entities", entity_id)
            if not valid_entity_id(entity_id):
                errors.append(FieldError(where, "not an entity id (domain.object_id in lowercase)"))
            elif isinstance(target, dict):
                if "state" in target and not isinstance(target["state"], str | int | float | bool | None):
                    errors.append(FieldError(where + "/state", "expected a string, number or boolean"))
            elif not isinstance(target, str | int | float | bool):
                errors.append(FieldError(where, "expected a state (\"on\", 21.5 ...) or an object with state"))
    if errors:
        raise BodyError(errors)
    config: dict[str, Any] = {"name": name, "entities": entities}
    if body.get("icon"):
        config["icon"] = body["icon"]
    return config


async def list_scenes(request: web.Request) -> web.Response:
    """GET /api/v1/scenes."""
    hub = hub_of(request)
    return answer(sorted((scene_as_dict(hub, e) for e in scenes(hub).values()), key=lambda s: s["id"]))


async def get_scene(request: web.Request) -> web.Response:
    """GET /api/v1/scenes/{id}."""
    hub = hub_of(request)
    entity = find(hub, request.match_info["scene_id"])
    if entity is None:
        return refuse("Scene not found.", 404)
    return answer(scene_as_dict(hub, entity))


def _new_id(hub: Hub, name: str) -> str:
    base = (slugify(name) or "scene")[:56]
    candidate, number = base, 2
    while find(hub, candidate) is not None or f"scene.{candidate}" in scenes(hub):
        candidate, number = f"{base}_{number}", number + 1
    return candidate


async def create_scene(request: web.Request) -> web.Response:
    """POST /api/v1/scenes (admins): add a scene to scenes.yaml."""
    hub = hub_of(request)
    if not allowed(request, "scene/create", "", admin=True):
        return refuse("Unauthorized", 401)
    try:
        body = await read_object(request)
        config = check_body(body, with_id=True)
    except BodyError as err:
        return refuse(f"Invalid scene: {err}", 400, err.errors)
    scene_id = body.get("id") or _new_id(hub, config["name"])
    if find(hub, scene_id) is not None:
        return refuse(f"A scene with id {scene_id} exists already", 409, [FieldError("/id", "taken")])
    try:
        await ConfigStore(hub, "scene").save(scene_id, config)
    except ConfigStoreError as err:
        audit(request, "scene/create", scene_id, "refused", reason=str(err))
        return refuse(str(err), err.status)
    audit(request, "scene/create", scene_id, "ok")
    entity = find(hub, scene_id)
    assert entity is not None  # the store reloaded the scenes
    return answer(scene_as_dict(hub, entity), 201)


async def update_scene(request: web.Request) -> web.Response:
    """PUT /api/v1/scenes/{id} (admins): replace a scene's name, icon and entities."""
    hub = hub_of(request)

    async def update(scene_id: str, entity: SceneEntity, body: dict[str, Any]) -> web.Response:
        config = check_body(body, with_id=False)
        if entity.created:
            entity.name = config["name"]
            entity.icon = config.get("icon")
            entity.entities = parse_entities(config["entities"])
            entity.write_state()
            save_created(hub)
        elif entity.scene_id is None:
            raise Refusal(f"{entity.entity_id} has no id in scenes.yaml: give it one there to edit it here", 409)
        else:
            await ConfigStore(hub, "scene").save(scene_id, config)
        updated = find(hub, scene_id)
        assert updated is not None
        return answer(scene_as_dict(hub, updated))

    return await SCENES.change(request, "update", update)


async def delete_scene(request: web.Request) -> web.Response:
    """DELETE /api/v1/scenes/{id} (admins)."""
    hub = hub_of(request)

    async def delete(scene_id: str, entity: SceneEntity, _body: dict[str, Any]) -> web.Response:
        if entity.created:
            await hub.services.call("scene", "delete", {"entity_id": entity.entity_id}, blocking=True)
        elif entity.scene_id is None:
            raise Refusal(f"{entity.entity_id} has no id in scenes.yaml: remove it there", 409)
        else:
            await ConfigStore(hub, "scene").delete(scene_id)
        return web.Response(status=204)

    return await SCENES.change(request, "delete", delete, body=False)


async def activate_scene(request: web.Request) -> web.Response:
    """POST /api/v1/scenes/{id}/activate (control roles): apply the scene, audited."""
    try:
        _, entity = SCENES.opening(request, "activate", admin=False)
    except Refusal as refusal:
        return refusal.response()
    context = Context(user_id=request[USER_KEY].id)
    await entity.activate(context)
    audit(request, "scene/activate", entity.entity_id, "ok", context=context)
    return answer(scene_as_dict(hub_of(request), entity))


SCENE_SCHEMA = {
    "type": "object",
    "required": ["id", "entity_id", "name", "entities", "source", "editable"],
    "properties": {
        "id": {"type": "string"},
        "entity_id": {"type": "string", "examples": ["scene.movie_time"]},
        "name": {"type": "string"},
        "icon": {"type": ["string", "null"]},
        "entities": {"type": "object", "additionalProperties": {"type": "object"},
                     "description": "entity_id to its target state and attributes"},
        "source": {"enum": ["yaml", "created"], "description": "scenes.yaml, or made with scene.create"},
        "editable": {"type": "boolean"},
        "last_activated": {"type": ["string", "null"], "format": "date-time"},
    },
}
SCENE_INPUT_SCHEMA = {
    "type": "object",
    "required": ["name", "entities"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": ID_PATTERN.pattern, "description": "POST only; made from the name when absent"},
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "icon": {"type": ["string", "null"]},
        "entities": {"type": "object", "minProperties": 1,
                     "additionalProperties": {"type": ["string", "number", "boolean", "object"]}},
    },
}


def register_scene_routes(app: web.Application) -> None:
    """Add the /api/v1/scenes routes and describe them in the OpenAPI document."""
    app.router.add_get("/api/v1/scenes", list_scenes)
    app.router.add_post("/api/v1/scenes", create_scene)
    app.router.add_get("/api/v1/scenes/{scene_id}", get_scene)
    app.router.add_put("/api/v1/scenes/{scene_id}", update_scene)
    app.router.add_delete("/api/v1/scenes/{scene_id}", delete_scene)
    app.router.add_post("/api/v1/scenes/{scene_id}/activate", activate_scene)
    SCENES.describe(app, schemas={"Scene": SCENE_SCHEMA, "SceneInput": SCENE_INPUT_SCHEMA},
                    summaries={"list": "List scenes (scenes.yaml and scene.create)",
                               "create": "Add a scene to scenes.yaml (admins)", "get": "One scene",
                               "replace": "Change a scene (admins)", "delete": "Remove a scene (admins)"},
                    create_errors=(400, 401, 409), delete_errors=(400, 401, 404, 409),
                    actions={"activate": "Apply a scene (every role but read-only); audited"})
