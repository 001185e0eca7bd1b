"""Blueprints in Home Assistant's format: `blueprint:` metadata with inputs, `!input` in the body.

An instance (`use_blueprint: {path, input}`) becomes an ordinary automation or script config:
each `!input name` is replaced by the user's value or the input's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from automations.config import InvalidConfig
from hub.config import Input, load_yaml
from hub.config.objects import get_location, set_location
from hub.exceptions import ConfigError

SHIPPED = Path(__file__).resolve().parents[1] / "blueprints"
DOMAINS = ("automation", "script", "template")


def search_paths(config_dir: Path | None, domain: str) -> list[Path]:
    """Where blueprints are looked up: the config's blueprints/<domain>/, then the shipped ones."""
    paths = []
    if config_dir is not None:
        paths.append(Path(config_dir) / "blueprints" / domain)
    paths.append(SHIPPED / domain)
    return paths


def flatten_inputs(inputs: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """Input definitions by name, sections (2024.6+) opened up."""
    result: dict[str, Mapping[str, Any]] = {}
    for name, definition in (inputs or {}).items():
        if isinstance(definition, Mapping) and isinstance(definition.get("input"), Mapping):
            result.update(flatten_inputs(definition["input"]))
        else:
            result[name] = definition if isinstance(definition, Mapping) else {}
    return result


class Blueprint:
    """A loaded blueprint file."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping) or not isinstance(data.get("blueprint"), Mapping):
            raise InvalidConfig(f"{path}: not a blueprint (no 'blueprint:' section)", data)
        meta = data["blueprint"]
        for key in ("name", "domain"):
            if key not in meta:
                raise InvalidConfig(f"{path}: required key not provided: 'blueprint.{key}'", meta, key)
        if meta["domain"] not in DOMAINS:
            raise InvalidConfig(f"{path}: unknown blueprint domain {meta['domain']!r}", meta, "domain")
        self.path = path
        self.data = data
        self.metadata = meta
        self.name: str = meta["name"]
        self.domain: str = meta["domain"]
        self.inputs = flatten_inputs(meta.get("input"))

    def instantiate(self, user_input: Mapping[str, Any] | None, node: Any = None) -> dict[str, Any]:
        """Return the body with every `!input` replaced.

        Raises:
            InvalidConfig: an input without default was not given, or an unknown input was.
        """
        values: dict[str, Any] = {}
        given = dict(user_input or {})
        missing = [name for name, definition in self.inputs.items() if name not in given and "default" not in definition]
        if missing:
            raise InvalidConfig(f"Missing input {', '.join(sorted(missing))}", node, "use_blueprint.input")
        for name, definition in self.inputs.items():
            values[name] = given[name] if name in given else definition.get("default")
        body = {k: v for k, v in self.data.items() if k != "blueprint"}
        # A mapping comes back as a mapping (a dict carrying the body's location).
        instantiated: dict[str, Any] = _substitute(body, values, self.path)
        return instantiated


def _substitute(value: Any, inputs: Mapping[str, Any], path: str) -> Any:
    if isinstance(value, Input):
        if value.name not in inputs:
            raise InvalidConfig(f"{path}: !input {value.name} is not declared under blueprint.input", None)
        return inputs[value.name]
    file, line = get_location(value)
    if isinstance(value, Mapping):
        result: Any = {k: _substitute(v, inputs, path) for k, v in value.items()}
    elif isinstance(value, list):
        result = [_substitute(v, inputs, path) for v in value]
    else:
        return value
    return set_location(result, file, line) if line is not None else result


def load_blueprint(config_dir: Path | None, domain: str, path: str, node: Any = None) -> Blueprint:
    """Find and load `path` (relative to blueprints/<domain>/).

    Raises:
        InvalidConfig: not found, outside the blueprints folder, invalid YAML or not a blueprint.
    """
    if not isinstance(path, str) or not path.endswith(".yaml"):
        raise InvalidConfig(f"invalid blueprint path {path!r}: it must end with .yaml", node, "use_blueprint.path")
    for folder in search_paths(config_dir, domain):
        candidate = (folder / path).resolve()
        if not candidate.is_relative_to(folder.resolve()):
            raise InvalidConfig(f"invalid blueprint path {path!r}: outside the blueprints folder", node, "use_blueprint.path")
        if candidate.is_file():
            try:
                data = load_yaml(candidate)
            except ConfigError as err:
                raise InvalidConfig(f"blueprint {path}: {err}", node, "use_blueprint.path") from err
            blueprint = Blueprint(data, str(candidate))
            if blueprint.domain != domain:
                raise InvalidConfig(f"blueprint {path} is for {blueprint.domain}, not {domain}", node, "use_blueprint.path")
            return blueprint
    raise InvalidConfig(f"blueprint {path} not found in {', '.join(str(p) for p in search_paths(config_dir, domain))}", node, "use_blueprint.path")


def resolve(config_dir: Path | None, domain: str, config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return config itself, or the instantiated blueprint when it has `use_blueprint`.

    Keys given beside use_blueprint (id, alias, description...) override the blueprint's.
    """
    use = config.get("use_blueprint")
    if use is None:
        return config
    if not isinstance(use, Mapping) or "path" not in use:
        raise InvalidConfig("use_blueprint needs 'path' (and 'input')", config, "use_blueprint")
    blueprint = load_blueprint(config_dir, domain, use["path"], config)
    body = blueprint.instantiate(use.get("input"), config)
    merged = {**body, **{k: v for k, v in config.items() if k != "use_blueprint"}}
    file, line = get_location(config)
    return set_location(merged, file, line) if line is not None else merged
