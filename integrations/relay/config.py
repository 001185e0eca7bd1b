"""The `relay:` section: timeouts, the offline queue, and safety limits per relay."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

_SECONDS = vol.All(vol.Coerce(float), vol.Range(min=0))
_LIMITS = {
    vol.Optional("min_on_time"): _SECONDS,
    vol.Optional("min_off_time"): _SECONDS,
    vol.Optional("max_toggles_per_minute"): vol.All(vol.Coerce(int), vol.Range(min=0)),
    vol.Optional("timeout"): vol.All(vol.Coerce(float), vol.Range(min=0.01)),
    vol.Optional("queue_ttl"): _SECONDS,
}


def _one_key(entry: dict[str, Any]) -> dict[str, Any]:
    if ("entity_id" in entry) == ("unique_id" in entry):
        raise vol.Invalid("each relay.switches entry needs exactly one of entity_id or unique_id")
    return entry


SWITCH_SCHEMA = vol.All(
    vol.Schema({vol.Optional("entity_id"): vol.Match(r"^switch\.[a-z0-9_]+$"), vol.Optional("unique_id"): str, **_LIMITS}),
    _one_key,
)

_RATE = vol.Schema({
    vol.Required("commands"): vol.All(vol.Coerce(int), vol.Range(min=0)),
    vol.Required("seconds"): vol.All(vol.Coerce(float), vol.Range(min=0.001)),
})
# Control endpoints (POST /api/v1/devices/{id}/command[s], PUT .../config): a burst of
# `commands`, refilled over `seconds`; commands: 0 lifts the limit.
RATE_LIMIT_DEFAULTS = {"per_user": {"commands": 20, "seconds": 10.0}, "per_device": {"commands": 10, "seconds": 10.0}}
RATE_LIMIT_SCHEMA = vol.Schema({
    vol.Optional("per_user", default=RATE_LIMIT_DEFAULTS["per_user"]): _RATE,
    vol.Optional("per_device", default=RATE_LIMIT_DEFAULTS["per_device"]): _RATE,
})

CONFIG_SCHEMA = vol.Schema(
    vol.Any(
        None,
        {
            vol.Optional("timeout", default=5.0): vol.All(vol.Coerce(float), vol.Range(min=0.01)),
            vol.Optional("queue_ttl", default=300.0): _SECONDS,
            vol.Optional("min_on_time", default=0.0): _SECONDS,
            vol.Optional("min_off_time", default=0.0): _SECONDS,
            vol.Optional("max_toggles_per_minute", default=0): vol.All(vol.Coerce(int), vol.Range(min=0)),
            vol.Optional("firmware_relays", default=True): bool,
            vol.Optional("switches", default=[]): [SWITCH_SCHEMA],
            vol.Optional("rate_limit", default={}): RATE_LIMIT_SCHEMA,
        },
    )
)


def normalized(config: Any) -> dict[str, Any]:
    """Return the validated section with every default filled in (also for an empty `relay:`)."""
    result: dict[str, Any] = CONFIG_SCHEMA(config) or CONFIG_SCHEMA({})
    return result
