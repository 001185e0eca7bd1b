"""Home Assistant's template functions that need no hub: numbers, maths, text, JSON, bits."""

from __future__ import annotations

import base64
import json
import math
import re
import statistics
import struct
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode as _urlencode

import jinja2
from awesomeversion import AwesomeVersion
from jinja2.filters import do_int

from hub import payload_json
from hub.util import slugify as slugify_text

SENTINEL: Any = object()

# The template being rendered, for error messages that must name it.
current_template: ContextVar[str | None] = ContextVar("current_template", default=None)

_TRUE = frozenset({"1", "true", "yes", "on", "enable"})
_FALSE = frozenset({"0", "false", "no", "off", "disable"})


def raise_no_default(function: str, value: Any) -> None:
    """Raise Home Assistant's error for a conversion that failed with no default."""
    template = current_template.get() or ""
    message = (
        f"Template error: {function} got invalid input '{value}' when rendering template "
        f"'{template}' but no default was specified"
    )
    raise ValueError(message)


def forgiving_float(value: Any, default: Any = SENTINEL) -> Any:
    """float(value), or default, or Home Assistant's error."""
    try:
        return float(value)
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("float", value)
        return default


def forgiving_int(value: Any, default: Any = SENTINEL, base: int = 10) -> Any:
    """int(value) (accepting "3.7" as 3 and other bases), or default, or the error."""
    result = do_int(value, default=default, base=base)
    if result is SENTINEL:
        raise_no_default("int", value)
    return result


def parse_boolean(value: Any) -> bool:
    """Interpret value the way Home Assistant's config validation does, or raise ValueError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower().strip()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    elif isinstance(value, (int, float)):
        return value != 0
    message = f"invalid boolean value {value}"
    raise ValueError(message)


def forgiving_boolean(value: Any, default: Any = SENTINEL) -> Any:
    """bool(value) with Home Assistant's words (on/off, yes/no...), or default, or the error."""
    try:
        return parse_boolean(value)
    except ValueError:
        if default is SENTINEL:
            raise_no_default("bool", value)
        return default


def is_number(value: Any) -> bool:
    """Return whether value converts to a finite float."""
    try:
        number = float(value)
    except (ValueError, TypeError):
        return False
    return math.isfinite(number)


def forgiving_round(value: Any, precision: int = 0, method: str = "common", default: Any = SENTINEL) -> Any:
    """Round with method common (half to even), ceil, floor or half (to .5)."""
    try:
        multiplier = float(10**precision)
        if method == "ceil":
            result = math.ceil(float(value) * multiplier) / multiplier
        elif method == "floor":
            result = math.floor(float(value) * multiplier) / multiplier
        elif method == "half":
            result = round(float(value) * 2) / 2
        else:
            result = round(float(value), precision)
        return int(result) if precision == 0 else result
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("round", value)
        return default


def multiply(value: Any, amount: Any, default: Any = SENTINEL) -> Any:
    """float(value) * amount, or default."""
    try:
        return float(value) * amount
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("multiply", value)
        return default


def add(value: Any, amount: Any, default: Any = SENTINEL) -> Any:
    """float(value) + amount, or default."""
    try:
        return float(value) + amount
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("add", value)
        return default


def _math(name: str, func: Any) -> Any:
    def wrapped(value: Any, default: Any = SENTINEL) -> Any:
        try:
            return func(float(value))
        except (ValueError, TypeError):
            if default is SENTINEL:
                raise_no_default(name, value)
            return default

    wrapped.__name__ = name
    return wrapped


sine = _math("sin", math.sin)
cosine = _math("cos", math.cos)
tangent = _math("tan", math.tan)
arc_sine = _math("asin", math.asin)
arc_cosine = _math("acos", math.acos)
arc_tangent = _math("atan", math.atan)
square_root = _math("sqrt", math.sqrt)


def logarithm(value: Any, base: Any = math.e, default: Any = SENTINEL) -> Any:
    """log(value, base), or default."""
    try:
        return math.log(float(value), float(base))
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("log", value)
        return default


def arc_tangent2(*args: Any, default: Any = SENTINEL) -> Any:
    """atan2(y, x); accepts a pair as one argument."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = tuple(args[0])
    if len(args) == 3 and default is SENTINEL:
        *args, default = args  # type: ignore[assignment]
    try:
        return math.atan2(float(args[0]), float(args[1]))
    except (ValueError, TypeError, IndexError):
        if default is SENTINEL:
            raise_no_default("atan2", args)
        return default


def _statistic(name: str, func: Any, lists_only: bool = False) -> Any:
    """Build average/median/statistical_mode as Home Assistant has them.

    One iterable, or two or more values; after an iterable, a second positional argument is
    the default (`average([], 0)`). Values are not converted: strings are an error.
    """

    def wrapped(*args: Any, default: Any = SENTINEL) -> Any:
        if not args:
            message = f"{name} expected at least 1 argument, got 0"
            raise TypeError(message)
        first = args[0]
        if lists_only and len(args) == 1 and isinstance(first, Iterable):
            values = first
        elif isinstance(first, (list, tuple)) if lists_only else isinstance(first, Iterable):
            values = first
            if len(args) > 1 and default is SENTINEL:
                default = args[1]
        elif len(args) == 1:
            message = f"'{type(first).__name__}' object is not iterable"
            raise TypeError(message)
        else:
            values = args
        try:
            return func(values)
        except (TypeError, statistics.StatisticsError):
            if default is SENTINEL:
                raise_no_default(name, args)
            return default

    wrapped.__name__ = name
    return wrapped


average = _statistic("average", statistics.fmean)
median = _statistic("median", statistics.median)
statistical_mode = _statistic("statistical_mode", statistics.mode, lists_only=True)


def min_max(builtin_filter: Any, name: str) -> Any:
    """Build min()/max() from Jinja's filter: one iterable or several values; one value is an error."""

    @jinja2.pass_environment
    def wrapped(environment: jinja2.Environment, *args: Any, **kwargs: Any) -> Any:
        if not args:
            message = f"{name} expected at least 1 argument, got 0"
            raise TypeError(message)
        if len(args) == 1:
            if isinstance(args[0], Iterable):
                return builtin_filter(environment, args[0], **kwargs)
            message = f"'{type(args[0]).__name__}' object is not iterable"
            raise TypeError(message)
        return builtin_filter(environment, args, **kwargs)

    wrapped.__name__ = name
    return wrapped


def version(value: Any) -> AwesomeVersion:
    """A comparable version (Home Assistant's `version()`: AwesomeVersion, same ordering)."""
    return AwesomeVersion(value)


def iif(value: Any, if_true: Any = True, if_false: Any = False, if_none: Any = SENTINEL) -> Any:
    """Immediate if: if_true when value is truthy, if_false otherwise, if_none for None."""
    if value is None and if_none is not SENTINEL:
        return if_none
    return if_true if bool(value) else if_false


@lru_cache(maxsize=256)
def _regex(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def regex_match(value: Any, find: str = "", ignorecase: bool = False) -> bool:
    """Match find at the start of value."""
    return bool(_regex(find, re.I if ignorecase else 0).match(str(value)))


def regex_search(value: Any, find: str = "", ignorecase: bool = False) -> bool:
    """Search for find anywhere in value."""
    return bool(_regex(find, re.I if ignorecase else 0).search(str(value)))


def regex_replace(value: Any = "", find: str = "", replace: str = "", ignorecase: bool = False) -> str:
    """Replace every match of find in value."""
    return _regex(find, re.I if ignorecase else 0).sub(replace, str(value))


def regex_findall(value: Any, find: str = "", ignorecase: bool = False) -> list[Any]:
    """Return every match of find in value."""
    return _regex(find, re.I if ignorecase else 0).findall(str(value))


def regex_findall_index(value: Any, find: str = "", index: int = 0, ignorecase: bool = False) -> Any:
    """Return the index-th match of find in value."""
    return regex_findall(value, find, ignorecase)[index]


def to_json(value: Any, ensure_ascii: bool = False, pretty_print: bool = False, sort_keys: bool = False) -> str:
    """Serialise value as JSON."""
    return json.dumps(
        value,
        ensure_ascii=ensure_ascii,
        indent=2 if pretty_print else None,
        sort_keys=sort_keys,
        separators=None if pretty_print else (",", ":"),
        default=str,
    )


def from_json(value: Any, default: Any = SENTINEL) -> Any:
    """Parse JSON text, or return default."""
    try:
        return payload_json.loads(value)
    except (ValueError, TypeError):
        if default is SENTINEL:
            raise_no_default("from_json", value)
        return default


def base64_encode(value: str | bytes) -> str:
    """Encode text as base64."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return base64.b64encode(raw).decode("utf-8")


def base64_decode(value: str, encoding: str | None = "utf-8") -> str | bytes:
    """Decode base64 to text (or bytes with encoding=None)."""
    decoded = base64.b64decode(value)
    return decoded.decode(encoding) if encoding else decoded


def slugify(value: Any, separator: str = "_") -> str:
    """Slugify value as entity ids are (hub.util.slugify); the separator may be positional here."""
    return slugify_text(value if value is None or isinstance(value, str) else str(value), separator=separator)


def urlencode(value: Mapping[str, Any]) -> str:
    """Encode a mapping as a query string."""
    return _urlencode(value)


def ordinal(value: Any) -> str:
    """Return 1st, 2nd, 3rd, 11th..."""
    text = str(value)
    if int(text[-2:]) % 100 in range(11, 14):
        return f"{text}th"
    return text + ["th", "st", "nd", "rd", "th", "th", "th", "th", "th", "th"][int(text[-1]) % 10]


def bitwise_and(first: int, second: int) -> int:
    """first & second."""
    return first & second


def bitwise_or(first: int, second: int) -> int:
    """first | second."""
    return first | second


def bitwise_xor(first: int, second: int) -> int:
    """first ^ second."""
    return first ^ second


def pack(value: Any, format_string: str) -> bytes | None:
    """struct.pack one value, or None when it does not fit the format."""
    try:
        return struct.pack(format_string, value)
    except struct.error:
        return None


def unpack(value: bytes, format_string: str, offset: int = 0) -> Any:
    """struct.unpack_from the first value, or None."""
    try:
        return struct.unpack_from(format_string, value, offset)[0]
    except struct.error:
        return None


def contains(seq: Any, value: Any) -> bool:
    """value in seq."""
    return value in seq


def fail_when_undefined(value: Any) -> Any:
    """Raise when value is undefined, else return it (the is_defined filter)."""
    if isinstance(value, jinja2.Undefined):
        value()
    return value


def typeof(value: Any) -> str:
    """Return the Python type name of value."""
    return type(value).__name__


def flatten(value: Iterable[Any], levels: int | None = None) -> list[Any]:
    """Flatten nested lists (levels deep, or entirely)."""
    result: list[Any] = []
    for item in value:
        if isinstance(item, (list, tuple)) and (levels is None or levels > 0):
            result.extend(flatten(item, None if levels is None else levels - 1))
        else:
            result.append(item)
    return result


def combine(*args: Any, recursive: bool = False) -> dict[str, Any]:
    """Merge dictionaries left to right (recursively when asked)."""
    result: dict[str, Any] = {}
    for arg in args:
        if not isinstance(arg, Mapping):
            message = f"combine expected a dict, got {type(arg).__name__}"
            raise TypeError(message)
        for key, value in arg.items():
            if recursive and isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
                result[key] = combine(result[key], value, recursive=True)
            else:
                result[key] = value
    return result


def is_list(value: Any) -> bool:
    """Test: a list."""
    return isinstance(value, list)


def is_set(value: Any) -> bool:
    """Test: a set."""
    return isinstance(value, (set, frozenset))


def is_tuple(value: Any) -> bool:
    """Test: a tuple."""
    return isinstance(value, tuple)


def is_string_like(value: Any) -> bool:
    """Test: str, bytes or bytearray."""
    return isinstance(value, (str, bytes, bytearray))
