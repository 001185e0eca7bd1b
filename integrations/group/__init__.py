"""`group:`: old-style entity groups, `group.<name>` on when its members are (HA's state rules).

    group:
      kitchen:
        name: Kitchen
        entities: [switch.kettle, light.kitchen, binary_sensor.kitchen_motion]
        all: false               # on when any member is on (true: when all are)

The state follows Home Assistant's rules: each member domain has its on states and an off state
(on/off, home/not_home, open/closed ...); members of one kind give the group that kind's
states, members of several kinds give on/off, members without on/off states (sensors) leave it
unknown. Attributes: entity_id (the members), order, icon, friendly_name, assumed_state. The
`group` notify platform is part of notify (see integrations/notify/group.py); the sensor and
binary_sensor group platforms are sensor.py and binary_sensor.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from hub.core.entity import Entity
from hub.core.states import STATE_OFF, STATE_ON, State, valid_entity_id
from integrations.sensor.calculated import Follower

if TYPE_CHECKING:
    from hub.core.hub import Hub

# domain -> (on states, the on state a group of that domain shows, off state), as HA registers them.
ON_OFF: dict[str, tuple[frozenset[str], str, str]] = {
    **{
        domain: (frozenset({STATE_ON}), STATE_ON, STATE_OFF)
        for domain in (
            "automation", "binary_sensor", "fan", "humidifier", "input_boolean", "light", "remote", "schedule",
            "script", "siren", "switch", "timer",
        )
    },
    "device_tracker": (frozenset({"home"}), "home", "not_home"),
    "person": (frozenset({"home"}), "home", "not_home"),
    "cover": (frozenset({"open", "opening", "closing"}), "open", "closed"),
    "lock": (frozenset({"unlocked", "open", "opening", "unlocking", "locking", "jammed"}), "unlocked", "locked"),
    "media_player": (frozenset({"on", "playing", "paused", "idle", "buffering"}), STATE_ON, STATE_OFF),
    "vacuum": (frozenset({"on", "cleaning", "returning", "error"}), STATE_ON, STATE_OFF),
    "climate": (frozenset({"heat", "cool", "heat_cool", "auto", "dry", "fan_only"}), STATE_ON, STATE_OFF),
    "alarm_control_panel": (
        frozenset({"armed_away", "armed_custom_bypass", "armed_home", "armed_night", "armed_vacation", "triggered"}),
        STATE_ON,
        STATE_OFF,
    ),
}
OFF_ON = {off: on for _, on, off in ON_OFF.values()}
# Domains whose states say nothing of on or off: members of these are listed but not followed.
EXCLUDED = frozenset({"sensor", "weather", "air_quality", "number", "input_number", "select", "input_select", "text", "input_text"})


def _entities(value: Any) -> list[str]:
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else list(value or [])
    result = []
    for item in items:
        text = str(item).strip().lower()
        if not valid_entity_id(text):
            raise vol.Invalid(f"expected entity ids such as light.kitchen, got {item!r}")
        result.append(text)
    return result


GROUP_SCHEMA = vol.All(
    lambda value: {} if value is None else value,
    vol.Schema(
        {
            vol.Optional("entities"): vol.Any(None, _entities),
            vol.Optional("name"): vol.Coerce(str),
            vol.Optional("icon"): str,
            vol.Optional("all", default=False): bool,
        }
    ),
)
_OBJECT_ID = vol.Match(r"^[a-z0-9_]+$", msg="expected a group name of lowercase letters, digits and underscores")
CONFIG_SCHEMA = vol.Any(None, vol.Schema({_OBJECT_ID: GROUP_SCHEMA}))


class Group(Follower, Entity):
    """group.<object_id>."""

    domain = "group"

    def __init__(self, object_id: str, config: Mapping[str, Any], order: int) -> None:
        self.entity_id = f"group.{object_id}"
        self.name = config.get("name", object_id)
        self.icon = config.get("icon")
        self.members: list[str] = list(config.get("entities") or [])
        self.all = bool(config.get("all", False))
        self.order = order
        self.state: str | None = None

    def state_value(self) -> Any:
        """on/off (or the members' own pair), unknown when no member has one."""
        return self.state

    def state_attributes(self) -> dict[str, Any]:
        """entity_id (the members) and order first, then the rest."""
        attrs: dict[str, Any] = {"entity_id": list(self.members), "order": self.order}
        attrs.update(super().state_attributes())
        return attrs

    async def added_to_hub(self) -> None:
        """Compute from the members' current states and follow them."""
        self.recompute_from([m for m in self.members if m.partition(".")[0] not in EXCLUDED], self._update)

    def _update(self) -> None:
        assert self.hub is not None
        states = [state for member in self.members if (state := self.hub.states.get(member)) is not None]
        self.assumed_state = any(bool(state.attributes.get("assumed_state")) for state in states)
        kinds: set[tuple[str, str]] = set()
        on_off: list[bool] = []
        for state in states:
            if state.domain in EXCLUDED:
                continue
            entry = ON_OFF.get(state.domain)
            if entry is None:  # a group in a group, or a domain without on states
                on = _group_member(state, kinds)
                if on is not None:
                    on_off.append(on)
                continue
            on_states, on_state, off_state = entry
            kinds.add((on_state, off_state))
            on_off.append(state.state in on_states)
        if not on_off:
            return
        if not kinds:
            self.state = None
            return
        on_state, off_state = next(iter(kinds)) if len(kinds) == 1 else (STATE_ON, STATE_OFF)
        is_on = all(on_off) if self.all else any(on_off)
        self.state = on_state if is_on else off_state


def _group_member(state: State, kinds: set[tuple[str, str]]) -> bool | None:
    if state.state in OFF_ON.values():
        kinds.add((state.state, _off_of(state.state)))
        return True
    if state.state in OFF_ON:
        kinds.add((OFF_ON[state.state], state.state))
        return False
    return None


def _off_of(on_state: str) -> str:
    return next(off for off, on in OFF_ON.items() if on == on_state)


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """group.<key> per group."""
    return [f"group.{key}" for key in (config or {})]


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Add a group entity per entry, in order."""
    for order, (object_id, group_config) in enumerate((config or {}).items()):
        await hub.entities.add(Group(str(object_id), group_config or {}, order), "group")
