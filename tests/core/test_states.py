"""The state machine, with Home Assistant's write semantics."""

from __future__ import annotations

import asyncio

import pytest

from hub.core.bus import Event, callback
from hub.core.context import Context
from hub.core.hub import Hub
from hub.exceptions import InvalidEntityFormatError, InvalidStateError


def changes(hub: Hub) -> list[Event]:
    seen: list[Event] = []
    hub.bus.listen("state_changed", callback(seen.append))
    return seen


async def test_first_write_fires_state_changed_with_no_old_state(hub: Hub) -> None:
    seen = changes(hub)
    state = hub.states.set("sensor.power", "120", {"unit_of_measurement": "W"})
    assert seen[0].data == {"entity_id": "sensor.power", "old_state": None, "new_state": state}
    assert state.attributes == {"unit_of_measurement": "W"}
    assert state.last_changed == state.last_updated == state.last_reported


async def test_same_state_and_attributes_only_reports(hub: Hub) -> None:
    seen = changes(hub)
    reported: list[Event] = []
    hub.bus.listen("state_reported", callback(reported.append))
    first = hub.states.set("sensor.power", "120", {"unit": "W"}, timestamp=1000.0)
    again = hub.states.set("sensor.power", "120", {"unit": "W"}, timestamp=1005.0)
    assert again is first
    assert len(seen) == 1
    assert first.last_reported_timestamp == 1005.0
    assert first.last_updated_timestamp == 1000.0
    assert reported[0].data["old_last_reported"].timestamp() == 1000.0


async def test_attribute_change_keeps_last_changed(hub: Hub) -> None:
    seen = changes(hub)
    hub.states.set("sensor.power", "120", {"a": 1}, timestamp=1000.0)
    state = hub.states.set("sensor.power", "120", {"a": 2}, timestamp=1010.0)
    assert len(seen) == 2
    assert state.last_changed_timestamp == 1000.0
    assert state.last_updated_timestamp == 1010.0
    assert state.last_reported_timestamp == 1010.0


async def test_state_change_moves_all_timestamps(hub: Hub) -> None:
    hub.states.set("sensor.power", "120", timestamp=1000.0)
    state = hub.states.set("sensor.power", "130", timestamp=1010.0)
    assert state.last_changed_timestamp == state.last_updated_timestamp == 1010.0


async def test_force_update_fires_even_without_change(hub: Hub) -> None:
    seen = changes(hub)
    hub.states.set("sensor.power", "120", timestamp=1000.0)
    state = hub.states.set("sensor.power", "120", force_update=True, timestamp=1010.0)
    assert len(seen) == 2
    assert state.last_changed_timestamp == 1010.0


@pytest.mark.parametrize(
    "entity_id",
    ["power", "sensor.", ".power", "sensor.power_", "_sensor.power", "sensor.po__wer", "sen sor.x", "sensor.ü"],
)
async def test_invalid_entity_ids_are_rejected(hub: Hub, entity_id: str) -> None:
    with pytest.raises(InvalidEntityFormatError, match="Invalid entity ID"):
        hub.states.set(entity_id, "1")
    assert len(hub.states) == 0


async def test_entity_ids_are_lowercased(hub: Hub) -> None:
    hub.states.set("Sensor.Power", "1")
    assert hub.states.get("sensor.power") is not None
    assert hub.states.get("SENSOR.POWER") is not None


async def test_states_longer_than_255_characters_are_rejected(hub: Hub) -> None:
    hub.states.set("sensor.note", "x" * 255)
    with pytest.raises(InvalidStateError, match="Invalid state with length 256. State max length is 255 characters."):
        hub.states.set("sensor.note", "x" * 256)
    assert hub.states.get("sensor.note").state == "x" * 255


async def test_non_string_states_are_stored_as_strings(hub: Hub) -> None:
    assert hub.states.set("sensor.power", 12.5).state == "12.5"  # type: ignore[arg-type]


async def test_attributes_are_read_only_and_copied(hub: Hub) -> None:
    attrs = {"a": 1}
    state = hub.states.set("sensor.power", "1", attrs)
    attrs["a"] = 2
    assert state.attributes["a"] == 1
    with pytest.raises(TypeError):
        state.attributes["a"] = 3  # type: ignore[index]


async def test_remove_fires_state_changed_with_no_new_state(hub: Hub) -> None:
    seen = changes(hub)
    hub.states.set("switch.relay", "on")
    assert hub.states.remove("switch.relay") is True
    assert hub.states.remove("switch.relay") is False
    assert seen[-1].data["new_state"] is None
    assert seen[-1].data["old_state"].state == "on"
    assert hub.states.all("switch") == []


async def test_domain_filters(hub: Hub) -> None:
    hub.states.set("sensor.a", "1")
    hub.states.set("sensor.b", "2")
    hub.states.set("switch.c", "on")
    assert sorted(s.entity_id for s in hub.states.all("sensor")) == ["sensor.a", "sensor.b"]
    assert sorted(hub.states.entity_ids(["sensor", "switch"])) == ["sensor.a", "sensor.b", "switch.c"]
    assert len(hub.states.all()) == 3
    assert sorted(hub.states.domains()) == ["sensor", "switch"]
    assert hub.states.is_state("switch.c", "on")
    assert not hub.states.is_state("switch.missing", "on")


async def test_context_travels_to_state_and_event(hub: Hub) -> None:
    seen = changes(hub)
    context = Context(user_id="u1")
    state = hub.states.set("switch.relay", "on", context=context)
    assert state.context is context
    assert seen[0].context is context


async def test_state_as_dict_matches_home_assistant_shape(hub: Hub) -> None:
    state = hub.states.set("sensor.power", "5", {"unit_of_measurement": "W"}, timestamp=0.5)
    data = state.as_dict()
    assert list(data) == ["entity_id", "state", "attributes", "last_changed", "last_reported", "last_updated", "context"]
    assert data["last_changed"] == "1970-01-01T00:00:00.500000+00:00"
    assert state.as_dict() is data  # serialised once


async def test_trackers_see_only_their_entity(hub: Hub) -> None:
    a: list[str] = []
    b: list[str] = []
    unsub_a = hub.states.track("sensor.a", callback(lambda e: a.append(e.data["new_state"].state)))
    hub.states.track(["sensor.b", "sensor.c"], callback(lambda e: b.append(e.data["entity_id"])))
    hub.states.set("sensor.a", "1")
    hub.states.set("sensor.b", "1")
    hub.states.set("sensor.c", "1")
    hub.states.set("sensor.d", "1")
    unsub_a()
    hub.states.set("sensor.a", "2")
    assert a == ["1"]
    assert b == ["sensor.b", "sensor.c"]


async def test_async_trackers_run_as_tasks(hub: Hub) -> None:
    seen: list[str] = []

    async def on_change(event: Event) -> None:
        await asyncio.sleep(0)
        seen.append(event.data["new_state"].state)

    hub.states.track("sensor.a", on_change)
    hub.states.set("sensor.a", "1")
    await hub.block_till_done()
    assert seen == ["1"]


async def test_restore_puts_state_back_without_event(hub: Hub) -> None:
    from hub.core.states import State

    seen = changes(hub)
    hub.states.restore(State("sensor.energy", "42.1", {"unit_of_measurement": "kWh"}, 100.0, 200.0))
    restored = hub.states.get("sensor.energy")
    assert restored.last_changed_timestamp == 100.0
    assert restored.last_updated_timestamp == 200.0
    assert seen == []
    assert hub.states.all("sensor") == [restored]
