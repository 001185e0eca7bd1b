"""Discovery configs as thousands of entities hold them: shared strings, a compact read-only mapping.

A validated config is a dict of some twenty keys (the schema fills in its defaults), ~600 bytes
with its hash table, and its strings are the discovery payload's own. An entity keeps it for as
long as it lives and only reads it; `compact()` turns it into a `Config`: a tuple of the values
and a key -> position table shared by every config with the same keys, with its repeated strings
made one object each.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

# Config values that are one entity's own, never shared with another entity's: not interned.
_OWN_KEYS = frozenset({"unique_id", "object_id", "default_entity_id"})
# Longer strings are not interned: a template or a topic is shorter; a 5,000-character fuzzed name
# shared with no other entity would only cost the lookup.
SHARE_MAX_CHARS = 256
# Distinct key sets whose position tables are shared (a bounded cache, as the device infos in
# entity.py: past this many the oldest is dropped, and a config then has a table of its own).
SHAPE_CACHE = 1024
_shapes: dict[tuple[str, ...], dict[str, int]] = {}


def share_strings(config: dict[str, Any]) -> dict[str, Any]:
    """Make a config's repeated strings one object each: topics, templates, payloads, names, units.

    Every discovery payload is parsed into strings of its own, but a device's entities repeat
    most of them (Zigbee2MQTT: one state, command and availability topic for all of a device's
    entities, one value_template per kind; every sensor's unit, device and state class). They
    become the interned string (sys.intern: dropped once nothing holds it), in place, one level
    down into `availability` too; what is equal stays equal.
    """
    for key, value in config.items():
        if type(value) is str:
            if len(value) <= SHARE_MAX_CHARS and key not in _OWN_KEYS:
                config[key] = sys.intern(value)
        elif key == "availability" and type(value) is list:
            for item in value:
                if type(item) is dict:
                    for name, text in item.items():
                        if type(text) is str and len(text) <= SHARE_MAX_CHARS:
                            item[name] = sys.intern(text)
    return config


class Config(Mapping[str, Any]):
    """A validated discovery config, read-only: what an entity keeps of its discovery payload.

    Reads as the dict it was made from (`config["state_topic"]`, `.get()`, `in`, `==` with a
    dict); nested values (`device`, `availability`) are the dict's own objects.
    """

    __slots__ = ("_positions", "_values")

    def __init__(self, config: Mapping[str, Any]) -> None:
        # Sorted: the validated dict's order follows the payload's, and two devices that write
        # the same keys in another order still share a table.
        keys = tuple(sorted(config))
        positions = _shapes.get(keys)
        if positions is None:
            positions = {key: index for index, key in enumerate(keys)}
            if len(_shapes) >= SHAPE_CACHE:
                del _shapes[next(iter(_shapes))]
            _shapes[keys] = positions
        self._positions = positions
        self._values = tuple([config[key] for key in keys])

    def __getitem__(self, key: str) -> Any:
        return self._values[self._positions[key]]

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value of key, or default (faster than Mapping's, which raises inside)."""
        index = self._positions.get(key)
        return default if index is None else self._values[index]

    def __contains__(self, key: object) -> bool:
        return key in self._positions

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config) and self._positions is other._positions:
            return self._values == other._values
        if isinstance(other, Mapping):
            return dict(self) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to a dict, which has none

    def __repr__(self) -> str:
        return f"Config({dict(self)!r})"


def compact(config: Mapping[str, Any]) -> Config:
    """Return a validated config as an entity keeps it: shared strings, shared key table."""
    if isinstance(config, Config):
        return config
    return Config(share_strings(config if isinstance(config, dict) else dict(config)))
