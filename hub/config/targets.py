"""check-config's warnings about entity ids that automations, scripts and scenes name but that
nothing would make: a typo, a renamed entity, an example written for another home.

An entity id is known when it is in the entity registry (every device entity the hub has seen,
MQTT-discovered ones included) or when an enabled integration's configuration makes it (the
`config_entity_ids` hook). Each warning says which of these were looked at, so a user can tell a
typo from a device that has not announced itself yet.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hub.config.issues import ConfigIssue
from hub.config.objects import get_location
from hub.core.states import valid_entity_id

# The sections whose entity ids are checked.
SECTIONS = ("automation", "script", "scene")
# Values that name no entity.
_NOT_ENTITIES = frozenset({"all", "none"})
_DEMO = re.compile(r"^[a-z_]+\.demo_\d{3}_")


@dataclass(frozen=True)
class Reference:
    """One entity id named in the configuration, and where."""

    entity_id: str
    file: str | None
    line: int | None
    key: str


@dataclass(frozen=True)
class KnownEntities:
    """What an entity id is checked against, and how it was found (for the warning's words)."""

    registry: frozenset[str]
    registry_source: str
    patterns: tuple[str, ...]
    asked: tuple[str, ...]

    def __contains__(self, entity_id: object) -> bool:
        if not isinstance(entity_id, str):
            return False
        if entity_id in self.registry:
            return True
        return any(fnmatch.fnmatchcase(entity_id, pattern) for pattern in self.patterns)


def _entity_ids(value: Any, parent: Any) -> Iterator[tuple[str, Any]]:
    """The entity ids in an `entity_id` value (a string, comma-separated string or list), with the
    node that knows their line."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str) or "{{" in item or "{%" in item:
            continue
        for part in item.split(","):
            part = part.strip().lower()
            if part and part not in _NOT_ENTITIES:
                yield part, item if get_location(item)[1] is not None else parent


def references(domain: str, section: Any) -> list[Reference]:
    """Every entity id a section of automations, scripts or scenes names: `entity_id:` keys
    anywhere (targets, triggers, conditions, data), `snapshot_entities:` and scenes' `entities:`."""
    found: list[Reference] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            if "use_blueprint" in node:
                return  # the blueprint's inputs are checked when it is resolved, not here
            for key, value in node.items():
                where = f"{path}.{key}"
                if key in ("entity_id", "snapshot_entities"):
                    for entity_id, located in _entity_ids(value, node):
                        found.append(Reference(entity_id, *get_location(located), where))
                elif key == "entities" and isinstance(value, Mapping):
                    for entity_id in value:
                        if isinstance(entity_id, str) and valid_entity_id(entity_id):
                            located = entity_id if get_location(entity_id)[1] is not None else value
                            found.append(Reference(entity_id, *get_location(located), where))
                    walk(value, where)
                else:
                    walk(value, where)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")

    walk(section, domain)
    return found


def _registry_words(known: KnownEntities) -> str:
    return f"not in the entity registry ({known.registry_source})"


def unknown_entity_warnings(
    sections: Mapping[str, Any], known: KnownEntities, base_dir: str | None = None
) -> list[ConfigIssue]:
    """A warning for each entity id the sections name that is not known, with how that was decided."""
    asked = ", ".join(known.asked) or "none"
    how = f"no configured integration makes it (asked: {asked})"
    warnings: list[ConfigIssue] = []
    seen: set[tuple[str, str | None, int | None]] = set()
    for domain, section in sections.items():
        for ref in references(domain, section):
            if ref.entity_id in known or (ref.entity_id, ref.file, ref.line) in seen:
                continue
            seen.add((ref.entity_id, ref.file, ref.line))
            if not valid_entity_id(ref.entity_id):
                message = f"{ref.entity_id!r} is not a valid entity id (expected domain.object_id)"
            else:
                message = f"no entity {ref.entity_id}: {_registry_words(known)}, and {how}"
                if _DEMO.match(ref.entity_id):
                    message += "; `hub run --demo` makes the demo_00N entities"
                else:
                    message += "; a device that announces it later (MQTT discovery) would make it"
            warnings.append(ConfigIssue(ref.file, ref.line, ref.key, message, base_dir))
    return warnings


def flatten_patterns(claims: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """All integrations' claimed ids and patterns, lower-cased, once each."""
    return tuple(dict.fromkeys(str(p).lower() for claim in claims for p in claim))


__all__ = ["SECTIONS", "KnownEntities", "Reference", "flatten_patterns", "references", "unknown_entity_warnings"]
