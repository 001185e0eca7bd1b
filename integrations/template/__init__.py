"""`template:`: entities whose state comes from templates, updated by state changes or by triggers.

    template:
      - sensor:
          - name: House power
            unit_of_measurement: W
            device_class: power
            state: "{{ states('sensor.kitchen_power') | float(0) + states('sensor.office_power') | float(0) }}"
        binary_sensor:
          - name: Washer running
            state: "{{ states('sensor.washer_power') | float(0) > 5 }}"
            delay_off: "00:02:00"
      - triggers:
          - trigger: time_pattern
            hours: "/1"
        sensor:
          - name: Hourly energy
            state: "{{ states('sensor.house_energy') }}"

Each block holds sensor, binary_sensor, switch, number, select and button entities (a mapping
or a list of them); a block with `triggers:` (and optional `conditions:`, `variables:`,
`actions:`) renders its entities when a trigger fires. The legacy `platform: template` of
sensor:, binary_sensor: and switch: maps onto the same entities (see legacy.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.config import InvalidConfig, ensure_list, normalize_actions, normalize_conditions, normalize_triggers
from hub import hookimpl
from hub.config import ConfigIssue
from hub.config.objects import get_location, item_locations
from hub.exceptions import HubError
from hub.util import slugify
from integrations.template.entities import KINDS, TemplateMixin, build
from integrations.template.trigger_block import TriggerBlock

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DOMAIN = "template"
# `template extra:` beside `template:`: one list of blocks.
LABELLED_SECTIONS = "list"
BLOCK_KEYS = {"unique_id", "triggers", "trigger", "conditions", "condition", "actions", "action", "variables", *KINDS}
COMMON_KEYS = {"name", "unique_id", "icon", "picture", "availability", "attributes", "variables", "default_entity_id", "object_id", "device_class"}
ENTITY_KEYS: dict[str, set[str]] = {
    "sensor": {"state", "unit_of_measurement", "state_class", "last_reset"},
    "binary_sensor": {"state", "delay_on", "delay_off", "auto_off"},
    "switch": {"state", "turn_on", "turn_off", "optimistic"},
    "number": {"state", "set_value", "min", "max", "step", "optimistic", "unit_of_measurement"},
    "select": {"state", "select_option", "options", "optimistic"},
    "button": {"press"},
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "sensor": ("state",),
    "binary_sensor": ("state",),
    "number": ("state", "set_value", "step"),
    "select": ("state", "select_option", "options"),
    "button": ("press",),
}


def _blocks(value: Any) -> list[Any]:
    blocks = ensure_list(value)
    for block in blocks:
        if not isinstance(block, Mapping):
            raise vol.Invalid(f"expected a mapping of entities (sensor:, binary_sensor: ...), got {type(block).__name__}")
    return blocks


CONFIG_SCHEMA = vol.Any(None, _blocks)


def _check_entity(domain: str, config: Any, trigger_based: bool) -> None:
    if not isinstance(config, Mapping):
        raise InvalidConfig(f"expected a {domain} mapping, got {type(config).__name__}", config)
    allowed = COMMON_KEYS | ENTITY_KEYS[domain]
    unknown = [key for key in config if key not in allowed]
    missing = [key for key in REQUIRED.get(domain, ()) if key not in config]
    if domain == "binary_sensor" and "auto_off" in config and not trigger_based:
        unknown.append("auto_off")
    problems = [f"extra keys not allowed: '{key}' is not a valid option" for key in unknown]
    problems += [f"required key not provided: '{key}'" for key in missing]
    if problems:
        raise InvalidConfig("; ".join(problems), config, unknown[0] if unknown else missing[0])


def _entities(block: Mapping[str, Any], trigger_based: bool) -> list[tuple[str, Any]]:
    found = []
    for domain in KINDS:
        for config in ensure_list(block.get(domain)):
            _check_entity(domain, config, trigger_based)
            found.append((domain, config))
    return found


def parse_block(hub: Hub, block: Mapping[str, Any]) -> tuple[list[TemplateMixin], TriggerBlock | None]:
    """Build a block's entities (and its triggers, when it has some).

    Raises:
        InvalidConfig: unknown keys, a missing required key, a bad template or trigger.
        HubError: another problem with an entity.
    """
    unknown = [key for key in block if key not in BLOCK_KEYS]
    if unknown:
        message = f"extra keys not allowed: '{unknown[0]}' is not a valid option (expected {', '.join(sorted(KINDS))} or triggers)"
        raise InvalidConfig(message, block, str(unknown[0]))
    node = dict(block)
    for old in ("trigger", "condition", "action"):
        if old in node:
            node[f"{old}s"] = node.pop(old)
    trigger_based = "triggers" in node
    prefix = str(node["unique_id"]) if node.get("unique_id") is not None else None
    entities = [build(hub, domain, config, prefix, trigger_based) for domain, config in _entities(block, trigger_based)]
    if not trigger_based:
        if any(key in node for key in ("conditions", "actions")):
            raise InvalidConfig("conditions and actions need triggers in the same block", block)
        return entities, None
    trigger_block = TriggerBlock(
        hub,
        normalize_triggers(node["triggers"]),
        normalize_conditions(node.get("conditions")),
        normalize_actions(node.get("actions")) if node.get("actions") else [],
        node.get("variables") or {},
        entities,
    )
    return entities, trigger_block


def _each(config: Any) -> list[tuple[int, Any, Any]]:
    blocks = ensure_list(config)
    locations = item_locations(blocks) if isinstance(config, list) else [get_location(config)] * len(blocks)
    return [(index, block, locations[index]) for index, block in enumerate(blocks)]


def _issue(hub: Hub, index: int, block: Any, location: Any, err: HubError) -> ConfigIssue:
    base = str(hub.config.config_dir) if hub.config.config_dir else None
    if isinstance(err, InvalidConfig):
        return err.issue(f"{DOMAIN}[{index}]", block, base)
    file, line = location if location[1] is not None else get_location(block)
    return ConfigIssue(file, line, f"{DOMAIN}[{index}]", str(err), base)


@hookimpl
async def check_integration_config(hub: Hub, config: Any) -> list[ConfigIssue]:
    """Build every block (nothing runs) and report what is wrong, with file and line."""
    from automations.triggers import load_platforms, validate_trigger

    await load_platforms(hub)
    issues = []
    for index, block, location in _each(config):
        try:
            _, trigger_block = parse_block(hub, block)
            if trigger_block is not None:
                for trigger in trigger_block.triggers:
                    validate_trigger(hub, trigger)
        except HubError as err:
            issues.append(_issue(hub, index, block, location, err))
    return issues


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """Each block's entities: their entity_id when set, else the slug of a static name
    (`domain.*` for a name that is a template: it is known only once rendered)."""
    claims: list[str] = []
    for _, block, _ in _each(config):
        try:
            entities, _ = parse_block(hub, block)
        except HubError:
            continue  # reported by check_integration_config
        for entity in entities:
            if entity_id := getattr(entity, "entity_id", None):
                claims.append(str(entity_id))
            elif entity._name_template is None and slugify(entity.name):  # noqa: SLF001
                claims.append(f"{entity.domain}.{slugify(entity.name)}*")
            else:
                claims.append(f"{entity.domain}.*")
    return claims


async def add_block_entities(hub: Hub, entities: list[TemplateMixin]) -> None:
    """Add entities of a block (also used by the legacy platforms)."""
    for entity in entities:
        await hub.entities.add(entity, DOMAIN)


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Add every valid block's entities and start its triggers; log and skip a bad block."""
    from automations.triggers import load_platforms

    await load_platforms(hub)
    for index, block, location in _each(config):
        try:
            entities, trigger_block = parse_block(hub, block)
        except HubError as err:
            _LOGGER.error("Invalid template block, skipped: %s", _issue(hub, index, block, location, err).format())
            continue
        await add_block_entities(hub, entities)
        if trigger_block is not None:
            await trigger_block.start()
            hub.on_stop(trigger_block.stop)
