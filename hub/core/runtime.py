"""Typed runtime slots on the Hub, in the style of aiohttp's `AppKey`.

An integration keeps what it runs for one hub (its client, its manager, its caches) in a slot
of `hub.runtime`, under a key it declares once at module level:

    MQTT: HubKey[MqttRuntime] = HubKey("mqtt")

    hub.runtime[MQTT] = runtime      # in setup_integration
    runtime = hub.runtime.get(MQTT)  # anywhere else: MqttRuntime | None

The key carries the value's type, so a reader (and mypy) knows what a slot holds without a
cast; nothing lives in module globals, so two hubs in one process never share runtime state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar, overload

_T = TypeVar("_T")
_D = TypeVar("_D")


class HubKey(Generic[_T]):
    """The typed name of one runtime slot. Compared by identity: declare it once."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<HubKey {self.name}>"


class HubRuntime:
    """The hub's runtime slots: `runtime[KEY]`, `runtime.get(KEY)`, `runtime.setdefault(KEY, make)`."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: dict[HubKey[Any], Any] = {}

    def __getitem__(self, key: HubKey[_T]) -> _T:
        try:
            value: _T = self._slots[key]
        except KeyError:
            message = f"No runtime slot {key.name!r} on this hub (is its integration set up?)"
            raise KeyError(message) from None
        return value

    def __setitem__(self, key: HubKey[_T], value: _T) -> None:
        self._slots[key] = value

    def __delitem__(self, key: HubKey[Any]) -> None:
        del self._slots[key]

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def __iter__(self) -> Iterator[HubKey[Any]]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    @overload
    def get(self, key: HubKey[_T]) -> _T | None: ...

    @overload
    def get(self, key: HubKey[_T], default: _D) -> _T | _D: ...

    def get(self, key: HubKey[_T], default: Any = None) -> Any:
        """Return the slot's value, or default when the slot is empty."""
        return self._slots.get(key, default)

    def setdefault(self, key: HubKey[_T], factory: Callable[[], _T]) -> _T:
        """Return the slot's value, filling it with factory() first when it is empty."""
        try:
            value: _T = self._slots[key]
        except KeyError:
            value = self._slots[key] = factory()
        return value

    @overload
    def pop(self, key: HubKey[_T]) -> _T | None: ...

    @overload
    def pop(self, key: HubKey[_T], default: _D) -> _T | _D: ...

    def pop(self, key: HubKey[_T], default: Any = None) -> Any:
        """Empty the slot and return what it held (default when it was empty)."""
        return self._slots.pop(key, default)


__all__ = ["HubKey", "HubRuntime"]
