"""De-duplication per key: one message per window, and a count of the ones held back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Window:
    until: float
    suppressed: int = 0


class Throttle:
    """Let the first message of a key through, then hold back repeats until the window ends.

    The next message after the window carries the number held back (`admit` returns it).
    Keys whose window ended are forgotten lazily, so memory follows the active keys only.
    """

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self.window = window
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def admit(self, key: str) -> int | None:
        """Return None to drop a repeat, or the count suppressed before a message allowed through."""
        if self.window <= 0:
            return 0
        now = self._clock()
        current = self._windows.get(key)
        if current is not None and now < current.until:
            current.suppressed += 1
            return None
        suppressed = current.suppressed if current is not None else 0
        self._windows[key] = _Window(now + self.window)
        if len(self._windows) > 1024:
            self._windows = {k: w for k, w in self._windows.items() if w.until > now or w.suppressed}
        return suppressed

    def suppressed(self, key: str) -> int:
        """Return how many messages of key were held back in its current window."""
        current = self._windows.get(key)
        return current.suppressed if current is not None else 0
