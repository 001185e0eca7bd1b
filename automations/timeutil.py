"""Durations and times of day as automations write them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import time, timedelta
from typing import Any

from automations.config import InvalidConfig
from hub.templating.timefuncs import parse_duration, parse_time

_UNITS = ("days", "hours", "minutes", "seconds", "milliseconds")


def is_templated(value: Any) -> bool:
    """Return whether a duration as written holds a template (checked when it renders)."""
    if isinstance(value, str):
        return "{" in value
    if isinstance(value, Mapping):
        return any(isinstance(v, str) and "{" in v for v in value.values())
    return False


def to_timedelta(value: Any, render: Callable[[Any], Any] | None = None, node: Any = None, key: str = "") -> timedelta:
    """Turn seconds, "HH:MM[:SS]", {hours: 1, ...} or a template into a timedelta.

    Args:
        value: the value as written.
        render: renders a template (or a dict of templates) when the value holds one.
        node, key: where the value is, for the error.

    Raises:
        InvalidConfig: the value is not a duration.
    """
    if render is not None and not isinstance(value, (int, float, timedelta)):
        value = render(value)
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise InvalidConfig(f"expected a duration, got {value!r}", node, key)
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    if isinstance(value, Mapping):
        unknown = set(value) - set(_UNITS)
        if unknown:
            raise InvalidConfig(f"expected a duration, got unknown keys {sorted(unknown)}", node, key)
        try:
            return timedelta(**{k: float(v) for k, v in value.items()})
        except (TypeError, ValueError) as err:
            raise InvalidConfig(f"expected a duration, got {dict(value)!r}: {err}", node, key) from err
    if isinstance(value, str):
        text = value.strip()
        try:
            return timedelta(seconds=float(text))
        except ValueError:
            pass
        parsed = parse_duration(text) if ":" in text or text.startswith(("P", "-P")) else None
        if parsed is not None:
            return parsed
    raise InvalidConfig(f"expected a duration (seconds, HH:MM:SS or a mapping), got {value!r}", node, key)


def to_time(value: Any, node: Any = None, key: str = "") -> time:
    """Parse a time of day "HH:MM[:SS]".

    Raises:
        InvalidConfig: the value is not a time of day.
    """
    parsed = parse_time(str(value)) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidConfig(f"expected a time of day HH:MM[:SS], got {value!r}", node, key)
    return parsed
