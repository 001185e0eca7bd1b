"""The time a device says a reading was taken: `ts` or `timestamp` in a payload, within a bounded skew.

Devices send epoch seconds (`1733212800`), epoch milliseconds (`1733212800123`) or ISO 8601
(`2024-12-03T08:00:00Z`; without an offset it is UTC). A device whose clock is wrong (unset
after a power cut, drifting) must not write readings into another day: a time further back
than `max_age` or further ahead than `max_ahead` of the hub's clock is not believed, and the
reading is taken at the time it was received.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TIME_KEYS = ("ts", "timestamp")
# Epoch values above this are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_MILLISECONDS_FROM = 1e11


def parse_reading_time(value: Any) -> float | None:
    """Return epoch seconds of an epoch (s or ms) or ISO 8601 time, or None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value) / 1000.0 if abs(value) >= _MILLISECONDS_FROM else float(value)
        return seconds if seconds == seconds and abs(seconds) < 1e11 else None  # NaN and absurd values
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return None


def own_time(payload: Any) -> tuple[str, Any] | None:
    """Return (key, value) of the payload's own time (`ts`, else `timestamp`), or None."""
    if isinstance(payload, dict):
        for key in TIME_KEYS:
            if key in payload:
                return key, payload[key]
    return None


@dataclass(frozen=True, slots=True)
class Skew:
    """How far a device's time may be from the hub's: `max_age` back, `max_ahead` ahead (seconds)."""

    max_age: float = 86_400.0
    max_ahead: float = 300.0

    def when(self, value: Any, received: float) -> tuple[float, str | None]:
        """Return the time to use for a reading and, when its own time was not used, why.

        Args:
            value: the payload's `ts`/`timestamp` value.
            received: when the hub received the reading (epoch seconds).
        """
        stamp = parse_reading_time(value)
        if stamp is None:
            return received, f"{value!r} is not epoch seconds, epoch milliseconds or ISO 8601"
        if stamp < received - self.max_age:
            return received, f"{_iso(stamp)} is more than {self.max_age:g} s before the hub's clock ({_iso(received)})"
        if stamp > received + self.max_ahead:
            return received, f"{_iso(stamp)} is more than {self.max_ahead:g} s after the hub's clock ({_iso(received)})"
        return stamp, None


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
