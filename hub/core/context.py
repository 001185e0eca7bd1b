"""Context: why something happened (who asked, and what caused it)."""

from __future__ import annotations

import random
import time
from typing import Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Two characters per 10 bits: 13 lookups make the 26 characters.
_PAIRS = [high + low for high in _CROCKFORD for low in _CROCKFORD]
_getrandbits = random.getrandbits


def _time_part(ms: int) -> str:
    pairs = _PAIRS
    return (pairs[(ms >> 40) & 1023] + pairs[(ms >> 30) & 1023] + pairs[(ms >> 20) & 1023]
            + pairs[(ms >> 10) & 1023] + pairs[ms & 1023])


def ulid_of(ms: int, bits: int) -> str:
    """Return the ULID string of a Unix millisecond and 80 random bits."""
    pairs = _PAIRS
    return (_time_part(ms) + pairs[bits >> 70] + pairs[(bits >> 60) & 1023] + pairs[(bits >> 50) & 1023]
            + pairs[(bits >> 40) & 1023] + pairs[(bits >> 30) & 1023] + pairs[(bits >> 20) & 1023]
            + pairs[(bits >> 10) & 1023] + pairs[bits & 1023])


# The millisecond of the last ULID, its first 24 characters and the number in its last two.
_last: tuple[int, str, int] = (-1, "", 0)


def ulid_at(timestamp: float) -> str:
    """Return a ULID string (26 chars, Crockford base32) for a Unix timestamp.

    Monotonic within a millisecond, as the ULID spec allows: the first one of a millisecond
    draws 79 random bits, the next ones add one to them, so each costs one lookup instead of
    encoding 128 bits (at 10,000 state changes a second, a context id per change was 7 % of
    the event loop's time). Past 512 in one millisecond, new random bits. Context ids are
    identifiers, not secrets.
    """
    global _last  # noqa: PLW0603 - a one-entry cache
    ms = int(timestamp * 1000)
    last_ms, head, low = _last
    if ms == last_ms and low < 1023:
        low += 1
    else:
        bits = _getrandbits(80)
        pairs = _PAIRS
        head = (_time_part(ms) + pairs[bits >> 70] + pairs[(bits >> 60) & 1023] + pairs[(bits >> 50) & 1023]
                + pairs[(bits >> 40) & 1023] + pairs[(bits >> 30) & 1023] + pairs[(bits >> 20) & 1023]
                + pairs[(bits >> 10) & 1023])
        low = bits & 511  # room for 512 more in this millisecond
    _last = (ms, head, low)
    return head + _PAIRS[low]


class Context:
    """Why something happened: a user's request, or another event's context as parent.

    The id is made on first use: most contexts on a hot path are never serialised, and a
    ULID costs more than the rest of a state write.
    """

    __slots__ = ("_id", "_created", "_as_dict", "user_id", "parent_id", "origin_event")

    def __init__(
        self, user_id: str | None = None, parent_id: str | None = None, id: str | None = None
    ) -> None:
        self._id = id
        self._created = time.time()
        self.user_id = user_id
        self.parent_id = parent_id
        self.origin_event: Any = None
        self._as_dict: dict[str, str | None] | None = None

    @property
    def id(self) -> str:
        """Return the context id, a ULID made from the creation time."""
        if self._id is None:
            self._id = ulid_at(self._created)
        return self._id

    def as_dict(self) -> dict[str, str | None]:
        """Return the context as Home Assistant serialises it (built once: an event and its new
        state share their context, and every WebSocket event serialises both)."""
        if self._as_dict is None:
            self._as_dict = {"id": self.id, "parent_id": self.parent_id, "user_id": self.user_id}
        return self._as_dict

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Context) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<Context id={self.id} user_id={self.user_id} parent_id={self.parent_id}>"
