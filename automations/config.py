"""Automation and script YAML: both of Home Assistant's syntaxes brought to one shape.

Old configs say `trigger`/`platform`/`condition`/`action` + `service`/`data_template`; since 2024.10
Home Assistant writes `triggers`/`trigger`/`conditions`/`actions` + `action`. normalize_* return
the new shape, keeping each mapping's file and line so errors still point at the user's YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.config.issues import ConfigIssue
from hub.config.objects import get_location, set_location
from hub.exceptions import HubError


class InvalidConfig(HubError):
    """A configuration problem at a node of the YAML tree."""

    def __init__(self, message: str, node: Any = None, key: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.key = key

    def issue(self, prefix: str, fallback: Any = None, base_dir: str | None = None) -> ConfigIssue:
        """Return the ConfigIssue with the node's file and line (else the fallback's)."""
        file, line = get_location(self.node)
        if line is None:
            file, line = get_location(fallback)
        key = f"{prefix}.{self.key}" if self.key else prefix
        return ConfigIssue(file, line, key, self.message, base_dir)


def _like(original: Any, new: dict[str, Any]) -> dict[str, Any]:
    """Return new carrying original's location."""
    file, line = get_location(original)
    return set_location(new, file, line) if line is not None else new


def ensure_list(value: Any) -> list[Any]:
    """A single item becomes a one-item list; None an empty list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _rename(node: dict[str, Any], old: str, new: str, path: str) -> None:
    if old in node:
        if new in node:
            message = f"Cannot specify both '{old}' and '{new}'. Please use '{new}' only."
            raise InvalidConfig(message, node, path)
        node[new] = node.pop(old)


AUTOMATION_KEYS = frozenset({
    "id", "alias", "description", "triggers", "conditions", "actions", "trigger_variables", "variables",
    "mode", "max", "max_exceeded", "initial_state", "trace", "use_blueprint",
})
SCRIPT_KEYS = frozenset({"alias", "description", "icon", "sequence", "mode", "max", "max_exceeded", "fields", "variables", "trace", "use_blueprint"})


def check_keys(config: Mapping[str, Any], allowed: frozenset[str], required: tuple[str, ...], what: str) -> None:
    """Refuse unknown keys and missing required ones, all in one message (as HA lists them).

    Raises:
        InvalidConfig: pointing at the first unknown key, else at the mapping.
    """
    unknown = [str(key) for key in config if key not in allowed]
    missing = [key for key in required if key not in config]
    problems = [f"'{key}' is an invalid option for '{what}', check: {key}" for key in unknown]
    problems += [f"required key '{key}' not provided" for key in missing]
    if problems:
        key = unknown[0] if unknown else missing[0]
        node = next((k for k in config if str(k) == key), config) if unknown else config
        raise InvalidConfig("; ".join(problems), node, key)


def normalize_automation(config: Any) -> dict[str, Any]:
    """Return an automation in the plural-key syntax, every trigger/condition/action normalized."""
    if not isinstance(config, Mapping):
        raise InvalidConfig(f"expected a mapping, got {type(config).__name__}", config)
    node = _like(config, dict(config))
    if "use_blueprint" in node:
        return node
    for old in ("trigger", "condition", "action"):
        _rename(node, old, f"{old}s", "")
    check_keys(node, AUTOMATION_KEYS, ("triggers", "actions"), "automation")
    node["triggers"] = normalize_triggers(node["triggers"])
    node["conditions"] = normalize_conditions(node.get("conditions"))
    node["actions"] = normalize_actions(node["actions"])
    return node


def normalize_triggers(value: Any) -> list[dict[str, Any]]:
    """Normalize a trigger list: `platform` -> `trigger`, nested `triggers:` lists flattened."""
    result: list[dict[str, Any]] = []
    for item in ensure_list(value):
        if not isinstance(item, Mapping):
            raise InvalidConfig(f"expected a trigger mapping, got {item!r}", value)
        if "triggers" in item and "trigger" not in item and "platform" not in item:
            result.extend(normalize_triggers(item["triggers"]))
            continue
        node = _like(item, dict(item))
        _rename(node, "platform", "trigger", "platform")
        if "trigger" not in node:
            raise InvalidConfig("required key not provided: 'trigger'", item)
        result.append(node)
    return result


def normalize_condition(item: Any) -> dict[str, Any]:
    """Normalize one condition: template shorthand strings and `and:`/`or:`/`not:` shorthands."""
    if isinstance(item, str):
        return _like(item, {"condition": "template", "value_template": item})
    if not isinstance(item, Mapping):
        raise InvalidConfig(f"expected a condition, got {item!r}", item)
    node = _like(item, dict(item))
    if "condition" not in node:
        for kind in ("and", "or", "not"):
            if kind in node:
                node["condition"] = kind
                node["conditions"] = node.pop(kind)
                break
        else:
            raise InvalidConfig("required key not provided: 'condition'", item)
    if isinstance(node["condition"], str) and "{" in node["condition"]:
        # `condition: "{{ ... }}"`: the template shorthand used as a condition step.
        return _like(item, {"condition": "template", "value_template": node["condition"]})
    if node["condition"] in ("and", "or", "not"):
        node["conditions"] = normalize_conditions(node.get("conditions"))
    return node


def normalize_conditions(value: Any) -> list[dict[str, Any]]:
    """Normalize a condition list (a single condition or a template string is a list of one)."""
    return [normalize_condition(item) for item in ensure_list(value)]


_SEQUENCE_KEYS = ("then", "else", "default", "sequence")


def normalize_action(item: Any) -> dict[str, Any]:
    """Normalize one action step and the sequences nested in it."""
    if not isinstance(item, Mapping):
        raise InvalidConfig(f"expected an action mapping, got {item!r}", item)
    node = _like(item, dict(item))
    _rename(node, "service_template", "action", "service_template")
    _rename(node, "service", "action", "service")
    _rename(node, "data_template", "data", "data_template")
    _rename(node, "event_data_template", "event_data", "event_data_template")
    if "scene" in node and "action" not in node:
        node["action"] = "scene.turn_on"
        node["target"] = {"entity_id": node.pop("scene")}
    if "condition" in node and isinstance(node["condition"], str) and "action" not in node:
        cond = normalize_condition(node)
        return cond
    for key in _SEQUENCE_KEYS:
        if key in node:
            node[key] = normalize_actions(node[key])
    if "if" in node:
        node["if"] = normalize_conditions(node["if"])
    if "choose" in node:
        options = []
        for option in ensure_list(node["choose"]):
            if not isinstance(option, Mapping):
                raise InvalidConfig("expected a choose option with conditions and sequence", node, "choose")
            opt = _like(option, dict(option))
            _rename(opt, "condition", "conditions", "condition")
            opt["conditions"] = normalize_conditions(opt.get("conditions"))
            opt["sequence"] = normalize_actions(opt.get("sequence"))
            options.append(opt)
        node["choose"] = options
    if "repeat" in node:
        repeat = _like(node["repeat"], dict(node["repeat"]))
        for key in ("while", "until"):
            if key in repeat:
                repeat[key] = normalize_conditions(repeat[key])
        repeat["sequence"] = normalize_actions(repeat.get("sequence"))
        node["repeat"] = repeat
    if "parallel" in node:
        branches = []
        for branch in ensure_list(node["parallel"]):
            if isinstance(branch, Mapping) and "sequence" in branch and len(branch) == 1:
                branches.append(_like(branch, {"sequence": normalize_actions(branch["sequence"])}))
            else:
                branches.append(normalize_action(branch))
        node["parallel"] = branches
    if "wait_for_trigger" in node:
        node["wait_for_trigger"] = normalize_triggers(node["wait_for_trigger"])
    return node


def normalize_actions(value: Any) -> list[dict[str, Any]]:
    """Normalize an action sequence (a single action is a sequence of one)."""
    return [normalize_action(item) for item in ensure_list(value)]
