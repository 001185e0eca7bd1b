"""Failed-login throttling: too many failures from one address or for one user lock it out.

Counted in memory per hub process (a restart forgets): enough to stop online guessing,
which needs thousands of tries; bcrypt makes each try cost the attacker 0.2 s anyway.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from hub.core.clock import Clock

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
WINDOW = 15 * 60.0  # seconds in which failures count
LOCKOUT = 15 * 60.0  # seconds a locked key stays locked


@dataclass(slots=True)
class _Key:
    failures: deque[float]
    locked_until: float = 0.0


class LoginThrottle:
    """Count failed logins per user name and per remote address; lock out past a limit."""

    def __init__(
        self,
        clock: Clock,
        max_per_user: int = MAX_FAILURES_PER_USER,
        max_per_address: int = MAX_FAILURES_PER_ADDRESS,
        window: float = WINDOW,
        lockout: float = LOCKOUT,
    ) -> None:
        self.clock = clock
        self._limits = {"user": max_per_user, "address": max_per_address}
        self._window = window
        self._lockout = lockout
        self._keys: dict[tuple[str, str], _Key] = {}

    def retry_after(self, address: str | None, user_name: str | None) -> float:
        """Return the seconds until this address and user may try again (0: they may now)."""
        now = self.clock.time()
        wait = 0.0
        for key in self._keys_of(address, user_name):
            entry = self._keys.get(key)
            if entry is not None and entry.locked_until > now:
                wait = max(wait, entry.locked_until - now)
        return wait

    def failed(self, address: str | None, user_name: str | None) -> bool:
        """Count a failed login; return True when it locked the address or the user."""
        now = self.clock.time()
        locked = False
        for key in self._keys_of(address, user_name):
            entry = self._keys.setdefault(key, _Key(deque()))
            failures = entry.failures
            failures.append(now)
            while failures and failures[0] <= now - self._window:
                failures.popleft()
            if len(failures) >= self._limits[key[0]]:
                entry.locked_until = now + self._lockout
                failures.clear()
                locked = True
        self._prune(now)
        return locked

    def succeeded(self, address: str | None, user_name: str | None) -> None:
        """Forget the user's failures after a good login (the address keeps its count)."""
        if user_name:
            entry = self._keys.get(("user", user_name.lower()))
            if entry is not None and entry.locked_until <= self.clock.time():
                del self._keys[("user", user_name.lower())]

    @staticmethod
    def _keys_of(address: str | None, user_name: str | None) -> list[tuple[str, str]]:
        keys = []
        if address:
            keys.append(("address", address))
        if user_name:
            keys.append(("user", user_name.lower()))
        return keys

    def _prune(self, now: float) -> None:
        # Bound memory under a spray of random user names.
        if len(self._keys) < 10_000:
            return
        for key in [k for k, e in self._keys.items() if e.locked_until <= now and not e.failures]:
            del self._keys[key]
