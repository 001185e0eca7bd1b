"""Safety limits of one relay: minimum on and off times, and a ceiling on switching rate.

They protect what the relay drives (a compressor must rest after stopping, a contactor wears
with every cycle) and refuse a command before anything is sent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hub.exceptions import ServiceValidationError


@dataclass(slots=True)
class SafetyLimits:
    """Limits in seconds (0: none) and toggles per rolling minute (0: unlimited)."""

    min_on_time: float = 0.0
    min_off_time: float = 0.0
    max_toggles_per_minute: int = 0
    _toggles: deque[float] = field(default_factory=deque)

    def check(self, entity_id: str, target: bool, is_on: bool | None, since: float | None, now: float) -> None:
        """Refuse a command that would switch too early or too often.

        Args:
            entity_id: the relay, for the message.
            target: the state asked for.
            is_on: the state the device last confirmed (None: unknown).
            since: when that state began (clock seconds; None: unknown).
            now: the clock's time.

        Raises:
            ServiceValidationError: a limit forbids the command now; the message says which
                and for how long.
        """
        if is_on is None or target == is_on:
            return  # no change of state: nothing to protect
        minimum = self.min_on_time if is_on else self.min_off_time
        if minimum > 0 and since is not None and since <= now:  # a clock set back: no basis
            left = minimum - (now - since)
            if left > 0:
                word = "on" if is_on else "off"
                message = (
                    f"{entity_id} must stay {word} for at least {minimum:g} s "
                    f"(min_{word}_time); try again in {left:.1f} s"
                )
                raise ServiceValidationError(message)
        if self.max_toggles_per_minute:
            toggles = self._toggles
            while toggles and toggles[0] <= now - 60:
                toggles.popleft()
            if len(toggles) >= self.max_toggles_per_minute:
                wait = toggles[0] + 60 - now
                message = (
                    f"{entity_id} switched {len(toggles)} times in the last minute "
                    f"(max_toggles_per_minute {self.max_toggles_per_minute}); try again in {wait:.1f} s"
                )
                raise ServiceValidationError(message)

    def count(self, now: float) -> None:
        """Count an accepted command that changes the state."""
        if self.max_toggles_per_minute:
            self._toggles.append(now)
