"""Home Assistant's date and time template functions, reading the hub's clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hub.core.clock import Clock
from hub.templating.functions import SENTINEL, raise_no_default
from hub.templating.render_info import current_render_info

DATE_STR_FORMAT = "%Y-%m-%d %H:%M:%S"

_DURATION = re.compile(
    r"^(?:(?P<days>-?\d+) (days?, )?)?"
    r"(?P<sign>-?)"
    r"((?:(?P<hours>\d+):)(?=\d+:\d+))?"
    r"(?:(?P<minutes>\d+):)?"
    r"(?P<seconds>\d+(?:[\.,]\d+)?)$"
)
_ISO_DURATION = re.compile(
    r"^(?P<sign>[-+]?)P(?:(?P<days>\d+(?:[\.,]\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:[\.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[\.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[\.,]\d+)?)S)?)?$"
)


def parse_datetime(value: str) -> datetime | None:
    """Parse an ISO 8601 date/time (with 'Z', a space or T separator); None when it is not one."""
    try:
        return datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError, TypeError):
        return None


def parse_time(value: str) -> time | None:
    """Parse HH:MM[:SS[.ffffff]]; None when it is not a time."""
    parts = str(value).strip().split(":")
    if len(parts) < 2 or len(parts) > 3:
        return None
    try:
        hour, minute = int(parts[0]), int(parts[1])
        second = float(parts[2]) if len(parts) == 3 else 0.0
        return time(hour, minute, int(second), int(round((second % 1) * 1_000_000)))
    except ValueError:
        return None


def parse_duration(value: str) -> timedelta | None:
    """Parse "HH:MM:SS", "1 day, 10:00:00" or ISO 8601 "P1DT2H"; None when it is not one."""
    text = str(value).strip()
    match = _DURATION.match(text) or _ISO_DURATION.match(text)
    if match is None:
        return None
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    sign = -1 if groups.pop("sign", "") == "-" else 1
    days = float(str(groups.pop("days", "0")).replace(",", "."))
    parts = {k: float(v.replace(",", ".")) for k, v in groups.items()}
    return timedelta(days=days) + sign * timedelta(**parts)


def _age(seconds: float, precision: int) -> str:
    """Home Assistant's age string: the largest units that fit, the last one rounded ("15 days")."""
    if seconds == 0:
        return "0 seconds"
    units = (
        ("year", 365 * 86400),
        ("month", 30 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
        ("second", 1),
    )

    def formatn(number: int, unit: str) -> str:
        return f"1 {unit} " if number == 1 else f"{number:d} {unit}s "

    text = ""
    used = 0
    for unit, size in units:
        if seconds < size:
            continue
        used += 1
        if used == precision:
            return (text + formatn(round(seconds / size), unit)).rstrip()
        whole = int(seconds // size)
        text += formatn(whole, unit)
        seconds -= whole * size
    return text.rstrip()


class TimeFunctions:
    """The time functions bound to one clock; each read marks the render as time-dependent."""

    def __init__(self, clock_getter: Callable[[], Clock]) -> None:
        self._clock = clock_getter

    def _mark(self) -> Clock:
        info = current_render_info.get()
        if info is not None:
            info.has_time = True
        return self._clock()

    def now(self) -> datetime:
        """Now, in the hub's time zone."""
        return self._mark().now()

    def utcnow(self) -> datetime:
        """Now, in UTC."""
        return self._mark().utcnow()

    def as_local(self, value: datetime) -> datetime:
        """Convert to the hub's time zone (a naive value is taken as local already)."""
        tz = self._clock().time_zone
        if value.tzinfo is None:
            return value.replace(tzinfo=tz)
        return value.astimezone(tz)

    def today_at(self, time_str: str = "") -> datetime:
        """Today at HH:MM[:SS] in the hub's time zone."""
        clock = self._mark()
        today = clock.start_of_local_day()
        if not time_str:
            return today
        parsed = parse_time(time_str)
        if parsed is None:
            message = f"could not convert {type(time_str).__name__} to datetime: '{time_str}'"
            raise ValueError(message)
        return datetime.combine(today.date(), parsed, clock.time_zone)

    def as_timestamp(self, value: Any, default: Any = SENTINEL) -> Any:
        """Unix timestamp of a datetime or a date/time string."""
        try:
            parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
            if parsed is None:
                message = "not a valid date/time."
                raise ValueError(message)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=self._clock().time_zone)
            return parsed.timestamp()
        except (ValueError, TypeError, OverflowError):
            if default is SENTINEL:
                raise_no_default("as_timestamp", value)
            return default

    def as_datetime(self, value: Any, default: Any = SENTINEL) -> Any:
        """A datetime from a datetime, date, timestamp or string (None for a bad string)."""
        if type(value) is datetime:
            return value
        if type(value) is date:
            return datetime.combine(value, time(0, 0, 0))
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (ValueError, TypeError, OverflowError):
            parsed = parse_datetime(value) if isinstance(value, str) else None
            if parsed is not None:
                return parsed
            if default is SENTINEL:
                if isinstance(value, str):
                    return None
                raise_no_default("as_datetime", value)
            return default

    def strptime(self, string: str, fmt: str, default: Any = SENTINEL) -> Any:
        """datetime.strptime, or default."""
        try:
            return datetime.strptime(string, fmt)
        except (ValueError, AttributeError, TypeError):
            if default is SENTINEL:
                raise_no_default("strptime", string)
            return default

    def as_timedelta(self, value: str) -> timedelta | None:
        """Parse a duration string."""
        return parse_duration(value)

    def _since(self, value: Any, precision: int, future: bool) -> Any:
        if not isinstance(value, datetime):
            return value
        clock = self._mark()
        if value.tzinfo is None:
            value = value.replace(tzinfo=clock.time_zone)
        delta = (value - clock.now()).total_seconds() if future else (clock.now() - value).total_seconds()
        if delta < 0:
            return 0 if future else value
        return _age(delta, int(precision))

    def relative_time(self, value: Any) -> Any:
        """How long ago value was ("2 hours"); a future value comes back unchanged."""
        return self._since(value, 1, future=False)

    def time_since(self, value: Any, precision: int = 1) -> Any:
        """How long ago value was, with precision units."""
        return self._since(value, precision, future=False)

    def time_until(self, value: Any, precision: int = 1) -> Any:
        """How long until value, with precision units (0 when past)."""
        return self._since(value, precision, future=True)

    def _timestamp(self, name: str, value: Any, local: bool, fmt: str | None, default: Any) -> Any:
        try:
            moment = datetime.fromtimestamp(float(value), UTC)
            if local:
                moment = moment.astimezone(self._clock().time_zone)
            return moment.strftime(fmt) if fmt is not None else moment.isoformat()
        except (ValueError, TypeError, OverflowError):
            if default is SENTINEL:
                raise_no_default(name, value)
            return default

    def timestamp_custom(
        self, value: Any, date_format: str = DATE_STR_FORMAT, local: bool = True, default: Any = SENTINEL
    ) -> Any:
        """Format a Unix timestamp with strftime."""
        return self._timestamp("timestamp_custom", value, local, date_format, default)

    def timestamp_local(self, value: Any, default: Any = SENTINEL) -> Any:
        """ISO string of a Unix timestamp in the hub's time zone."""
        return self._timestamp("timestamp_local", value, True, None, default)

    def timestamp_utc(self, value: Any, default: Any = SENTINEL) -> Any:
        """ISO string of a Unix timestamp in UTC."""
        return self._timestamp("timestamp_utc", value, False, None, default)
