"""Labelled sections: `automation bars:` beside `automation:`, combined into one section.

Home Assistant lets several top-level keys configure one domain when the key is the domain
followed by a space and a label. An integration says how its sections combine with the module
attribute `LABELLED_SECTIONS`: `"list"` (the items of every section, in file order: automation,
template, sensor ...) or `"mapping"` (the entries of every section, a key given twice being an
error: script). An integration without it takes no labelled section, and check-config says so
rather than letting the hub ignore one.
"""

from __future__ import annotations

from typing import Any, Literal

from hub.config.issues import ConfigIssue, display_path
from hub.config.objects import NodeDict, get_location, item_locations, node_list, set_location
from hub.config.packages import domain_keys

LabelledKind = Literal["list", "mapping"]
KINDS: tuple[str, ...] = ("list", "mapping")


def _where(obj: Any, base_dir: str | None) -> str:
    file, line = get_location(obj)
    if file is None:
        return "an unknown place"
    shown = display_path(file, base_dir)
    return f"{shown}:{line}" if line is not None else shown


def _items(value: Any) -> list[tuple[Any, tuple[str | None, int | None]]]:
    if value is None:
        return []
    if isinstance(value, list):
        return list(zip(value, item_locations(value), strict=True))
    return [(value, get_location(value))]


def combine(
    config: dict[Any, Any], domain: str, kind: LabelledKind, base_dir: str | None = None
) -> tuple[Any, list[ConfigIssue]]:
    """Combine every section of a domain (`automation`, `automation bars` ...) into one value.

    Args:
        config: The root configuration (validated or not).
        domain: The domain whose sections to combine.
        kind: `"list"` to concatenate the items, `"mapping"` to merge the entries.
        base_dir: Folder to show file paths relative to.

    Returns:
        The combined value (a list, a mapping, or None when no section has content) and
        the issues: a section that is not of the kind, a mapping key given twice.
    """
    keys = domain_keys(config, domain)
    issues: list[ConfigIssue] = []
    if kind == "list":
        items: list[Any] = []
        locations: list[tuple[str | None, int | None]] = []
        for key in keys:
            for item, where in _items(config[key]):
                items.append(item)
                locations.append(where)
        if not items and all(config[key] is None for key in keys):
            return None, issues
        file, line = get_location(config[keys[0]]) if keys else (None, None)
        return node_list(items, locations, file, line), issues
    merged: dict[Any, Any] = NodeDict()
    seen: dict[Any, Any] = {}
    for key in keys:
        value = config[key]
        if value is None:
            continue
        if not isinstance(value, dict):
            file, line = get_location(key) if get_location(key)[1] is not None else get_location(value)
            issues.append(ConfigIssue(file, line, str(key), f"expected a mapping, got {type(value).__name__}", base_dir))
            continue
        for entry, entry_value in value.items():
            if entry in seen:
                message = (
                    f"duplicate key '{entry}': defined at {_where(seen[entry], base_dir)} "
                    f"and again under '{key}' at {_where(entry, base_dir)}"
                )
                issues.append(ConfigIssue(*get_location(entry), f"{key}.{entry}", message, base_dir))
                continue
            seen[entry] = entry
            merged[entry] = entry_value
    if keys:
        first = config[keys[0]]
        set_location(merged, *get_location(first if get_location(first)[1] is not None else keys[0]))
    return (merged if merged or any(config[key] is not None for key in keys) else None), issues


def refuse(config: dict[Any, Any], domain: str, base_dir: str | None = None) -> list[ConfigIssue]:
    """Return an issue for each labelled section of a domain that takes none."""
    return [
        ConfigIssue(
            *get_location(key),
            str(key),
            f"integration '{domain}' does not take labelled sections: move this into '{domain}:'",
            base_dir,
        )
        for key in domain_keys(config, domain)
        if key != domain
    ]
