"""Objects produced by the YAML loader: containers that remember where they came from.

Mappings, sequences and strings loaded from YAML carry two attributes, named as
in Home Assistant: ``__config_file__`` (the source file path) and ``__line__``
(the 1-based line of the node). Error reporting uses them to point a user at the
exact place in their configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

Location = tuple[str | None, int | None]
"""A ``(file, 1-based line)`` pair; either part may be None when unknown."""


class NodeDict(dict):  # type: ignore[type-arg]
    """A dict loaded from YAML, with ``__config_file__`` and ``__line__``, and the keys that
    appeared twice in it (``duplicate_keys``: key, first line, repeated line, file)."""

    __config_file__: str | None
    __line__: int | None
    duplicate_keys: list[tuple[Any, int, int, str]] = []  # noqa: RUF012 - replaced per instance, never mutated


class NodeList(list):  # type: ignore[type-arg]
    """A list loaded from YAML, with ``__config_file__`` and ``__line__``."""

    __config_file__: str | None
    __line__: int | None


class NodeStr(str):
    """A str loaded from YAML, with ``__config_file__`` and ``__line__``."""

    __config_file__: str | None
    __line__: int | None


@dataclass(frozen=True)
class Input:
    """A blueprint input placeholder created by the ``!input name`` tag."""

    name: str

    @classmethod
    def from_node(cls, loader: yaml.constructor.BaseConstructor, node: yaml.nodes.Node) -> Input:
        """Build an Input from a YAML scalar node.

        Args:
            loader: The YAML loader constructing the document.
            node: The ``!input`` scalar node.

        Returns:
            The Input carrying the node's value as its name.
        """
        return cls(str(node.value))


def get_location(obj: Any) -> Location:
    """Return the ``(file, line)`` a loaded object came from.

    Args:
        obj: Any object; only Node* objects carry a location.

    Returns:
        The source file and 1-based line, or ``(None, None)`` when unknown.
    """
    return getattr(obj, "__config_file__", None), getattr(obj, "__line__", None)


def set_location(obj: Any, file: str | None, line: int | None) -> Any:
    """Give ``obj`` a location, converting plain dict/list/str to Node* classes.

    Args:
        obj: The object to annotate.
        file: The source file.
        line: The 1-based line.

    Returns:
        The annotated object (a new Node* object for plain containers/strings);
        other types (numbers, booleans, None, Input) are returned unchanged.
    """
    if isinstance(obj, (NodeDict, NodeList, NodeStr)):
        pass
    elif isinstance(obj, dict):
        obj = NodeDict(obj)
    elif isinstance(obj, list):
        obj = NodeList(obj)
    elif isinstance(obj, str):
        obj = NodeStr(obj)
    else:
        return obj
    obj.__config_file__ = file
    obj.__line__ = line
    return obj


def item_locations(seq: Any) -> list[Location]:
    """Return the ``(file, line)`` of each item of a loaded list.

    Lines of items that cannot carry attributes (numbers, booleans, None) are
    kept on the list itself, in ``__item_locations__``.

    Args:
        seq: A list, normally a NodeList built by the loader.

    Returns:
        One location per item; ``(None, None)`` where unknown.
    """
    recorded = getattr(seq, "__item_locations__", None)
    locations = []
    for index, item in enumerate(seq):
        own = get_location(item)
        if own[1] is None and recorded is not None and index < len(recorded):
            own = recorded[index]
        locations.append(own)
    return locations


def node_list(
    items: list[Any], locations: list[Location], file: str | None, line: int | None
) -> NodeList:
    """Build a NodeList located at ``file:line`` whose items are at ``locations``.

    Args:
        items: The list items.
        locations: The location of each item (same length as ``items``).
        file: The list's file.
        line: The list's line.

    Returns:
        The new NodeList.
    """
    result = NodeList(items)
    result.__item_locations__ = list(locations)  # type: ignore[attr-defined]
    return set_location(result, file, line)  # type: ignore[no-any-return]
