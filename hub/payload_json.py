"""JSON from devices (MQTT payloads, value_json): parsed by orjson, nested at most MAX_DEPTH levels.

A payload nested thousands of levels deep must not reach code that recurses over it. The
standard library's parser recurses in C against the interpreter's recursion limit: on
`[` x 10,000 it climbs to that limit before it gives up, and a garbage collection that happens
up there runs finalizers (a generator's close, a `__del__`) with no stack left; their
RecursionError escapes through `sys.unraisablehook`, which cannot even print it. orjson stops at
1,024 levels without touching the interpreter's stack, but everything downstream recurses
again: `{{ value_json }}`, `tojson`, deep copies, orjson's own encoder (254 levels) when the
recorder or the WebSocket API writes the attributes. So a value nested deeper than MAX_DEPTH
is refused here, as invalid JSON: deeper than any device's JSON (Tasmota, Zigbee2MQTT: < 10),
far inside every limit above.

Home Assistant parses payloads with orjson too (`homeassistant.util.json.json_loads`): NaN and
Infinity are not JSON here either.
"""

from __future__ import annotations

from typing import Any

import orjson

from hub.exceptions import HubError

MAX_DEPTH = 100  # levels of arrays and objects in a parsed payload


class TooDeepError(HubError, orjson.JSONDecodeError):
    """Valid JSON nested deeper than MAX_DEPTH levels: refused like invalid JSON (an orjson.JSONDecodeError)."""

    def __init__(self, depth: int = MAX_DEPTH) -> None:
        message = f"nested deeper than {depth} levels"
        ValueError.__init__(self, message)
        self.msg, self.doc, self.pos, self.lineno, self.colno = message, "", 0, 1, 1


def loads(data: str | bytes | bytearray | memoryview, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON; raise orjson.JSONDecodeError (a ValueError) if invalid or nested deeper than max_depth."""
    value = orjson.loads(data)
    # Fewer brackets than levels allowed cannot nest too deep: the usual payload is never walked.
    if isinstance(value, (dict, list)) and _brackets(data) > max_depth and deeper_than(value, max_depth):
        raise TooDeepError(max_depth)
    return value


def _brackets(data: str | bytes | bytearray | memoryview) -> int:
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    raw = data if isinstance(data, (bytes, bytearray)) else bytes(data)
    return raw.count(b"[") + raw.count(b"{")


def deeper_than(value: Any, limit: int) -> bool:
    """Return whether lists and dicts in value nest more than limit levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False
