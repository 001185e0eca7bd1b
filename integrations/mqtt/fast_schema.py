"""A dict schema's valid case checked without voluptuous; anything else is voluptuous's to answer.

Voluptuous matches each key of a config against the schema's keys one candidate at a time, and
that matching, not the field validators, is most of a discovery config's validation (a cold
start validates 5,000 of them). `FastDictSchema` looks each key up in a table of the same field
validators and fills the same defaults. It only ever answers with a config it validated
completely: on the first problem (a missing required key, a field validator that raises, a
check that fails) it hands the original config to the voluptuous schema, so what is refused,
and the error message that says why, are voluptuous's own.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any

import voluptuous as vol

Validator = Callable[[Any], Any]
_IMMUTABLE = (str, int, float, bool, type(None), bytes, frozenset)


class FastDictSchema:
    """`vol.Schema(vol.All(vol.Schema(fields, extra=REMOVE_EXTRA), *checks))`, with a fast path.

    Args:
        fields: the schema's fields: `vol.Required`/`vol.Optional` markers with string keys,
            each mapped to a validator voluptuous accepts.
        checks: validators of the whole validated config, applied in order (vol.All's).
    """

    def __init__(self, fields: Mapping[Any, Any], *checks: Validator) -> None:
        self.slow = vol.Schema(vol.All(vol.Schema(dict(fields), extra=vol.REMOVE_EXTRA), *checks))
        self._validators: dict[str, Validator] = {}
        required: list[str] = []
        defaults: list[tuple[str, Any]] = []
        dynamic: list[tuple[str, Callable[[], Any], Validator]] = []
        for marker, validator in fields.items():
            # Exactly these two: Exclusive and Inclusive (Optional's subclasses) check groups of keys.
            if type(marker) not in (vol.Required, vol.Optional) or not isinstance(marker.schema, str):
                message = f"FastDictSchema takes Required/Optional string keys, not {marker!r}"
                raise TypeError(message)
            key = marker.schema
            # A plain function is what voluptuous would call; anything else (vol.Any, vol.All,
            # a list, a nested schema...) is compiled once, as voluptuous compiles it in a schema.
            check = validator if isinstance(validator, types.FunctionType) else vol.Schema(validator)
            self._validators[key] = check
            if isinstance(marker, vol.Required):
                required.append(key)
            make: Any = marker.default
            if isinstance(make, vol.Undefined):
                continue
            # Voluptuous validates a default like a given value: for an immutable default the
            # result never changes; a mutable one is made and validated at every call.
            if isinstance(make(), _IMMUTABLE):
                defaults.append((key, check(make())))
            else:
                dynamic.append((key, make, check))
        self._required = tuple(required)
        self._defaults = tuple(defaults)
        self._dynamic = tuple(dynamic)
        self._checks = checks

    def __call__(self, data: Any) -> Any:
        """Return the validated config.

        Raises:
            vol.Invalid: the config is not valid (voluptuous's error, with its path).
        """
        if type(data) is not dict:
            return self.slow(data)
        validators = self._validators
        out: dict[str, Any] = {}
        try:
            for key, value in data.items():
                check = validators.get(key)
                if check is not None:
                    out[key] = check(value)
                elif type(key) is not str:
                    return self.slow(data)  # a key that only voluptuous's matching may place
            for key in self._required:
                if key not in out:
                    return self.slow(data)
            for key, default in self._defaults:
                if key not in data:
                    out[key] = default
            for key, make, check in self._dynamic:
                if key not in data:
                    out[key] = check(make())
            result: Any = out
            for step in self._checks:
                result = step(result)
        except Exception:  # noqa: BLE001 - the slow path says what is wrong, in voluptuous's words
            return self.slow(data)
        return result
