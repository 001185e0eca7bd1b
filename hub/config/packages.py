"""Packages (``homeassistant: packages:``) and label-suffixed domain keys.

Merging follows Home Assistant's rules: list-valued domain configs are
concatenated; mapping-valued ones are merged recursively, and a scalar key
defined both in the configuration and in a package is an error naming both
places. Inside a package, ``homeassistant`` may only hold ``customize``.
"""

from __future__ import annotations

from typing import Any

from hub.config.issues import ConfigIssue, display_path
from hub.config.objects import (
    Location,
    NodeDict,
    NodeList,
    get_location,
    item_locations,
    node_list,
    set_location,
)

CORE_DOMAIN = "homeassistant"
CONF_PACKAGES = "packages"
CONF_CUSTOMIZE = "customize"


def domain_of_key(key: Any) -> str | None:
    """Return the domain of a top-level key: ``"automation manual"`` -> ``"automation"``.

    Args:
        key: A top-level configuration key.

    Returns:
        The part before the first space, or None when ``key`` is not a string.
    """
    if not isinstance(key, str):
        return None
    return key.split(" ", 1)[0]


def domain_keys(config: dict[Any, Any], domain: str) -> list[Any]:
    """Return the top-level keys configuring ``domain``, labelled ones included.

    Args:
        config: The root configuration.
        domain: A domain such as ``automation``.

    Returns:
        Keys such as ``automation``, ``automation manual``, ``automation 2``,
        in file order.
    """
    return [key for key in config if domain_of_key(key) == domain]


def extract_domain_configs(config: dict[Any, Any], domain: str) -> list[Any]:
    """Return the configs given for ``domain`` under all of its keys.

    Args:
        config: The root configuration.
        domain: A domain such as ``automation``.

    Returns:
        The value of each key from :func:`domain_keys`, in the same order.
    """
    return [config[key] for key in domain_keys(config, domain)]


def _where(obj: Any, base_dir: str | None) -> str:
    file, line = get_location(obj)
    if file is None:
        return "an unknown location"
    file = display_path(file, base_dir)
    return f"{file}:{line}" if line is not None else file


def _type_name(value: Any) -> str:
    for kind, name in ((dict, "dictionary"), (list, "list"), (str, "string"), (bool, "boolean")):
        if isinstance(value, kind):
            return name
    return "nothing" if value is None else type(value).__name__


def _ensure_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _located_items(value: Any) -> list[tuple[Any, Location]]:
    if isinstance(value, list):
        return list(zip(value, item_locations(value), strict=True))
    return [(item, get_location(item)) for item in _ensure_list(value)]


def _concat(first: Any, second: Any) -> NodeList:
    """Concatenate two list-ish configs, dropping falsy items (as HA does)."""
    pairs = [(item, where) for item, where in _located_items(first) + _located_items(second) if item]
    file, line = get_location(first) if get_location(first)[1] is not None else get_location(second)
    return node_list([item for item, _ in pairs], [where for _, where in pairs], file, line)


def _find_key(mapping: dict[Any, Any], key: Any) -> Any:
    return next(existing for existing in mapping if existing == key)


def _merge_dict(target: dict[Any, Any], package: dict[Any, Any], prefix: str) -> list[tuple[str, Any, Any]]:
    """Merge ``package`` into ``target`` recursively; return the conflicting keys.

    Each conflict is ``(dotted key, key already in target, key from package)``.
    """
    conflicts: list[tuple[str, Any, Any]] = []
    for key, value in package.items():
        dotted = f"{prefix}.{key}"
        if isinstance(value, dict):
            if not value:
                continue
            current = target.get(key)
            if current is None:
                fresh = set_location(NodeDict(), *get_location(value))
                if key in target:
                    target[_find_key(target, key)] = fresh
                else:
                    target[key] = fresh
                current = fresh
            if isinstance(current, dict):
                conflicts.extend(_merge_dict(current, value, dotted))
            else:
                conflicts.append((dotted, _find_key(target, key), key))
        elif isinstance(value, list) or isinstance(target.get(key), list):
            if key in target:
                target[_find_key(target, key)] = _concat(target[key], value)
            else:
                target[key] = _concat(None, value)
        elif target.get(key) is not None:
            conflicts.append((dotted, _find_key(target, key), key))
        elif key in target:
            target[_find_key(target, key)] = value
        else:
            target[key] = value
    return conflicts


def _conflict_issues(
    package_name: str, conflicts: list[tuple[str, Any, Any]], base_dir: str | None
) -> list[ConfigIssue]:
    issues = []
    for dotted, existing, duplicate in conflicts:
        file, line = get_location(duplicate)
        issues.append(
            ConfigIssue(
                file,
                line,
                dotted,
                f"duplicate key '{duplicate}': defined at {_where(existing, base_dir)}"
                f" and again in package '{package_name}' at {_where(duplicate, base_dir)}",
                base_dir,
            )
        )
    return issues


def _merge_core(root: dict[Any, Any], name: str, key: Any, conf: Any, base_dir: str | None) -> list[ConfigIssue]:
    """Merge a package's ``homeassistant:`` section, which may only hold ``customize``."""
    if conf is None:
        return []
    if not isinstance(conf, dict):
        return [ConfigIssue(*get_location(key), CORE_DOMAIN, f"package '{name}': expected a dictionary", base_dir)]
    issues = [
        ConfigIssue(
            *get_location(sub_key),
            f"{CORE_DOMAIN}.{sub_key}",
            f"package '{name}': only '{CONF_CUSTOMIZE}' may be set under '{CORE_DOMAIN}' in a package",
            base_dir,
        )
        for sub_key in conf
        if sub_key != CONF_CUSTOMIZE
    ]
    customize = conf.get(CONF_CUSTOMIZE)
    if customize and isinstance(customize, dict):
        core = root.get(CORE_DOMAIN)
        if isinstance(core, dict):
            conflicts = _merge_dict(core, NodeDict({_find_key(conf, CONF_CUSTOMIZE): customize}), CORE_DOMAIN)
            issues.extend(_conflict_issues(name, conflicts, base_dir))
    return issues


def merge_packages(root: dict[Any, Any], base_dir: str | None = None) -> list[ConfigIssue]:
    """Merge ``homeassistant: packages:`` into the root configuration, in place.

    Args:
        root: The loaded configuration.yaml.
        base_dir: The config dir, to display file paths relative to.

    Returns:
        The problems found; the offending parts of a package are skipped and
        the rest is merged.
    """
    core = root.get(CORE_DOMAIN)
    if not isinstance(core, dict) or core.get(CONF_PACKAGES) is None:
        return []
    packages = core[CONF_PACKAGES]
    packages_key = _find_key(core, CONF_PACKAGES)
    if not isinstance(packages, dict):
        where = get_location(packages) if get_location(packages)[1] is not None else get_location(packages_key)
        return [ConfigIssue(*where, f"{CORE_DOMAIN}.{CONF_PACKAGES}", "expected a dictionary of packages", base_dir)]
    issues: list[ConfigIssue] = []
    for name, package in packages.items():
        pkg_key = f"{CORE_DOMAIN}.{CONF_PACKAGES}.{name}"
        if not isinstance(package, dict):
            message = f"a package must be a dictionary, got {_type_name(package)}"
            issues.append(ConfigIssue(*get_location(name), pkg_key, message, base_dir))
            continue
        for comp_key, comp_conf in package.items():
            domain = domain_of_key(comp_key)
            if domain is None:
                issues.append(ConfigIssue(*get_location(package), pkg_key, f"invalid domain {comp_key!r}", base_dir))
                continue
            if comp_key == CORE_DOMAIN:
                issues.extend(_merge_core(root, str(name), comp_key, comp_conf, base_dir))
                continue
            issues.extend(_merge_component(root, str(name), comp_key, comp_conf, base_dir))
    return issues


def _merge_component(root: dict[Any, Any], name: str, key: Any, conf: Any, base_dir: str | None) -> list[ConfigIssue]:
    """Merge one domain's config from a package into the root."""
    existing = root.get(key)
    if isinstance(conf, list) or isinstance(existing, list):
        if key in root:
            root[_find_key(root, key)] = _concat(existing, conf)
        else:
            root[key] = _concat(None, conf)
        return []
    if conf is None:
        root.setdefault(key, None)
        return []
    if not isinstance(conf, dict):
        return [
            ConfigIssue(
                *get_location(key),
                str(key),
                f"package '{name}': cannot merge a {_type_name(conf)}, expected a dictionary or a list",
                base_dir,
            )
        ]
    if existing is None:
        fresh = set_location(NodeDict(), *get_location(conf))
        if key in root:
            root[_find_key(root, key)] = fresh
        else:
            root[key] = fresh
        existing = fresh
    if not isinstance(existing, dict):
        return [
            ConfigIssue(
                *get_location(key),
                str(key),
                f"package '{name}': cannot merge a dictionary into the {_type_name(existing)}"
                f" defined at {_where(_find_key(root, key), base_dir)}",
                base_dir,
            )
        ]
    return _conflict_issues(name, _merge_dict(existing, conf, str(key)), base_dir)
