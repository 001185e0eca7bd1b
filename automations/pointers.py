"""Where a config problem is in a JSON body: a check's file:line and key turned into a JSON pointer.

The config store checks an item by writing it to YAML and checking that file, so a problem comes
back as `automations.yaml:14: automation.x.entity_id: required key not provided`. The device API
answers in terms of the JSON the client sent: `/triggers/0/entity_id` (RFC 6901). The pointer is
found by composing the checked YAML (every node knows its line) and taking the node the problem's
line starts, then the problem's key inside it when that node is a mapping (a missing required key
points to where it belongs).
"""

from __future__ import annotations

import re

import yaml

_INDEX = re.compile(r"\[\d+\]$")


def escape(token: str) -> str:
    """Escape one reference token (RFC 6901: `~` as `~0`, `/` as `~1`)."""
    return token.replace("~", "~0").replace("/", "~1")


def _item_node(root: yaml.Node, item_id: str) -> yaml.MappingNode | None:
    """The mapping of the list item whose `id` is item_id (scripts: the value under the id)."""
    if isinstance(root, yaml.SequenceNode):
        for node in root.value:
            if isinstance(node, yaml.MappingNode) and any(
                isinstance(k, yaml.ScalarNode) and k.value == "id" and isinstance(v, yaml.ScalarNode)
                and v.value == item_id for k, v in node.value
            ):
                return node
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == item_id and isinstance(value, yaml.MappingNode):
                return value
    return None


def _walk(node: yaml.Node, pointer: str, found: list[tuple[int, str, yaml.Node]]) -> None:
    found.append((node.start_mark.line + 1, pointer, node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else ""
            member = f"{pointer}/{escape(str(name))}"
            found.append((key.start_mark.line + 1, member, key))  # `triggers:` with its list below
            _walk(value, member, found)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            _walk(value, f"{pointer}/{index}", found)


def last_key(key: str, prefix: str) -> str:
    """The last key named by an issue's dotted key (`automation.x.triggers[0].for` -> `for`)."""
    rest = key[len(prefix):].lstrip(".") if key.startswith(prefix) else key
    if not rest:
        return ""
    return _INDEX.sub("", rest.rsplit(".", 1)[-1])


def locate(text: str, item_id: str, line: int | None, key: str) -> str:
    """Return the JSON pointer, into the item whose id is item_id, of the problem at line.

    Args:
        text: the YAML document that was checked.
        item_id: the item the body became.
        line: the problem's 1-based line in text (None: the whole item).
        key: the last key the problem names ("" if none).

    Returns:
        A JSON pointer relative to the item ("" for the whole item).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return ""
    item = _item_node(root, item_id) if root is not None else None
    if item is None or line is None:
        return ""
    nodes: list[tuple[int, str, yaml.Node]] = []
    _walk(item, "", nodes)
    at_line = [(pointer, node) for start, pointer, node in nodes if start == line]
    if not at_line:
        return ""
    mappings = [(pointer, node) for pointer, node in at_line if isinstance(node, yaml.MappingNode)]
    if mappings:
        pointer, _node = max(mappings, key=lambda found: found[0].count("/"))
        return f"{pointer}/{escape(key)}" if key else pointer
    return max(at_line, key=lambda found: found[0].count("/"))[0]
