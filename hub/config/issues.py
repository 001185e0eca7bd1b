"""Configuration issues: one problem, with the file, line and dotted key it concerns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol

from hub.config.objects import Location, get_location, item_locations

_MAX_VALUE_REPR = 80
_MISSING = object()
_GOT = re.compile(r"\bgot\b")


@dataclass(frozen=True)
class ConfigIssue:
    """One configuration problem.

    Attributes:
        file: The YAML file the problem is in, if known.
        line: The 1-based line in ``file``, if known.
        key: The dotted path of the offending key, e.g. ``mqtt.broker`` or
            ``automation[2].trigger``; empty for problems not tied to a key.
        message: What is wrong: what was expected and what was given.
        base_dir: Optional folder (normally the config dir) that ``file`` is
            shown relative to; not part of equality.
    """

    file: str | None
    line: int | None
    key: str
    message: str
    base_dir: str | None = field(default=None, compare=False, repr=False)

    def format(self, base_dir: str | Path | None = None) -> str:
        """Format the issue as ``file:line: key: message``.

        Args:
            base_dir: Show ``file`` relative to this folder when it lies inside
                it; defaults to the issue's own ``base_dir``.

        Returns:
            The formatted issue, leaving out the parts that are unknown.
        """
        parts: list[str] = []
        if self.file is not None:
            location = display_path(self.file, base_dir if base_dir is not None else self.base_dir)
            if self.line is not None:
                location = f"{location}:{self.line}"
            parts.append(location)
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        return ": ".join(parts)

    def __str__(self) -> str:
        return self.format()


def display_path(file: str, base_dir: str | Path | None) -> str:
    """Return ``file`` relative to ``base_dir`` when it lies inside it.

    Args:
        file: A file path.
        base_dir: The folder to show the path relative to, or None.

    Returns:
        The relative path (POSIX style) or ``file`` unchanged.
    """
    if base_dir is None:
        return file
    path, base = Path(file), Path(base_dir)
    for candidate, root in ((path, base), (path.resolve(), base.resolve())):
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            continue
    return file


def key_path(domain: str, path: list[Any]) -> str:
    """Build a dotted key such as ``automation[2].trigger`` from a voluptuous path.

    Args:
        domain: The top-level key the path starts from.
        path: Path elements: mapping keys and list indexes.

    Returns:
        The dotted key.
    """
    text = str(domain)
    for element in path:
        element = _plain_key(element)
        if isinstance(element, int) and not isinstance(element, bool):
            text += f"[{element}]"
        else:
            text += f".{element}" if text else str(element)
    return text


def _plain_key(element: Any) -> Any:
    """Unwrap voluptuous markers (``Required('x')``) to their key."""
    if isinstance(element, vol.Marker):
        return element.schema
    return element


def _describe_value(value: Any) -> str:
    """Return a short repr of an offending value, hiding secrets."""
    if getattr(value, "__secret__", False):
        return "<secret>"
    if isinstance(value, str):
        text = repr(str(value))
    elif isinstance(value, dict):
        text = repr(dict(value))
    elif isinstance(value, list):
        text = repr(list(value))
    else:
        text = repr(value)
    if len(text) > _MAX_VALUE_REPR:
        text = text[: _MAX_VALUE_REPR - 3] + "..."
    return text


def _walk(config: Any, path: list[Any], start: Location) -> tuple[Location, Any]:
    """Walk ``path`` into ``config``; return the deepest location and the value found.

    The location of a mapping entry is its key's location (falling back to the
    value's); that of a list item is the item's own, else the list's. The value
    is ``_MISSING`` when the path leaves the tree.
    """
    location = start if start != (None, None) else get_location(config)
    node = config
    for element in path:
        element = _plain_key(element)
        if isinstance(node, dict):
            actual = next((key for key in node if key == element), _MISSING)
            if actual is _MISSING:
                return location, _MISSING
            node = node[actual]
            for candidate in (get_location(actual), get_location(node)):
                if candidate[1] is not None:
                    location = candidate
                    break
        elif isinstance(node, list) and isinstance(element, int) and -len(node) <= element < len(node):
            item_location = item_locations(node)[element]
            node = node[element]
            if item_location[1] is not None:
                location = item_location
        else:
            return location, _MISSING
    return location, node


def _humanize(error: vol.Invalid, value: Any) -> str:
    """Describe one voluptuous error: what was expected and what was given."""
    message = error.error_message
    if isinstance(error, vol.RequiredFieldInvalid) or message == "required key not provided":
        return "required key not provided"
    if message == "extra keys not allowed":
        if error.path:
            return f"extra keys not allowed: {_describe_value(str(_plain_key(error.path[-1])))} is not a valid option"
        return message
    if _names_value(message, value):
        return message  # the validator said what it was given: saying it twice reads as two values
    if error.error_type:
        message = f"{message} for {error.error_type}"
    if value is not _MISSING:
        message = f"{message}, got {_describe_value(value)}"
    return message


def _names_value(message: str, value: Any) -> bool:
    """Return whether a validator's message already says what it was given (`..., got 0`, `unknown 'x'`)."""
    if _GOT.search(message):
        return True
    return isinstance(value, str) and bool(value) and not getattr(value, "__secret__", False) and repr(str(value)) in message


def issue_from_invalid(
    err: vol.Invalid | vol.MultipleInvalid,
    config: Any,
    domain: str,
    *,
    location: Location | None = None,
    base_dir: str | None = None,
) -> list[ConfigIssue]:
    """Turn a voluptuous error into issues pointing at the file and line at fault.

    For each error, ``err.path`` is walked into the loaded config tree to find
    the deepest node that carries a line: the key's line when the key exists,
    else the enclosing mapping's.

    Args:
        err: The error raised by a schema.
        config: The (unvalidated) config the schema was given.
        domain: The top-level key ``config`` was found under; prefixes each key.
        location: Where ``domain`` itself is defined, used when the error is at
            the top of ``config``; defaults to ``config``'s own location.
        base_dir: Folder to display file paths relative to.

    Returns:
        One ConfigIssue per error.
    """
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    issues: list[ConfigIssue] = []
    for error in errors:
        (file, line), value = _walk(config, list(error.path), location or (None, None))
        issue = ConfigIssue(file, line, key_path(domain, list(error.path)), _humanize(error, value), base_dir)
        if issue not in issues:
            issues.append(issue)
    return issues
