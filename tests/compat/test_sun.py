"""The sun: trigger at the computed sunset on a frozen clock, condition, and sun.sun."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import astral
import astral.sun

from hub.core.clock import ManualClock
from hub.core.hub import Hub, HubConfig
from tests.automations.conftest import Recorder, setup_automations

AMSTERDAM = {"latitude": 52.3676, "longitude": 4.9041, "elevation": 0, "time_zone": "Europe/Amsterdam"}


def _sunset(day: date) -> datetime:
    """Sunset in Amsterdam that day, from astral directly (what HA's helpers compute)."""
    observer = astral.Observer(AMSTERDAM["latitude"], AMSTERDAM["longitude"], 0)
    return astral.sun.sunset(observer, day, tzinfo=UTC)


def _amsterdam(hub: Hub, start: datetime) -> ManualClock:
    hub.config = HubConfig(**AMSTERDAM)
    clock = ManualClock(start, time_zone="Europe/Amsterdam")
    hub.clock = clock
    return clock


async def test_a_sun_trigger_fires_at_the_computed_sunset_with_its_offset(hub: Hub) -> None:
    clock = _amsterdam(hub, datetime(2024, 6, 1, 10, 0, tzinfo=UTC))
    calls = Recorder(hub)
    await setup_automations(hub, """
        - alias: Before sunset
          triggers:
            - trigger: sun
              event: sunset
              offset: "-00:45:00"
          actions:
            - action: test.record
              data:
                event: "{{ trigger.event }}"
                offset: "{{ trigger.offset }}"
                description: "{{ trigger.description }}"
                at: "{{ now().isoformat() }}"
        - alias: At sunset
          triggers: {trigger: sun, event: sunset}
          actions: {action: test.other, data: {at: "{{ utcnow().isoformat() }}", description: "{{ trigger.description }}"}}
        """)
    expected = _sunset(date(2024, 6, 1))
    assert datetime(2024, 6, 1, 19, 50, tzinfo=UTC) < expected < datetime(2024, 6, 1, 19, 56, tzinfo=UTC)

    await clock.set_time(expected - timedelta(minutes=45, seconds=1))
    assert calls.data == []
    await clock.set_time(expected - timedelta(minutes=45))
    await hub.block_till_done()
    assert calls.data == [{
        "event": "sunset",
        "offset": "-1 day, 23:15:00",
        "description": "sunset with offset",
        "at": (expected - timedelta(minutes=45)).astimezone(clock.time_zone).isoformat(),
    }]
    await clock.set_time(expected)
    await hub.block_till_done()
    assert calls.data[1] == {"at": expected.isoformat(), "description": "sunset"}
    # Re-armed for the next day's sunset, not fired again today.
    await clock.set_time(_sunset(date(2024, 6, 2)) - timedelta(minutes=46))
    await hub.block_till_done()
    assert len(calls.calls) == 2
    await clock.set_time(_sunset(date(2024, 6, 2)))
    await hub.block_till_done()
    assert len(calls.calls) == 4


async def test_sun_condition_after_sunset_before_sunrise(hub: Hub) -> None:
    clock = _amsterdam(hub, datetime(2024, 6, 1, 10, 0, tzinfo=UTC))
    calls = Recorder(hub)
    await setup_automations(hub, """
        - alias: Dark only
          triggers: {trigger: event, event_type: ping}
          conditions:
            - condition: sun
              after: sunset
              before: sunrise
          actions: {action: test.record}
        """)
    hub.bus.fire("ping", {})
    await hub.block_till_done()
    assert calls.data == []  # midday
    await clock.set_time(_sunset(date(2024, 6, 1)) + timedelta(minutes=1))
    hub.bus.fire("ping", {})
    await hub.block_till_done()
    assert len(calls.data) == 1


async def test_sun_entity_state_and_next_events(hub: Hub) -> None:
    from integrations import sun

    _amsterdam(hub, datetime(2024, 6, 1, 10, 0, tzinfo=UTC))
    await sun.setup_integration(hub, None)
    state = hub.states.get("sun.sun")
    assert state.state == "above_horizon"
    assert state.attributes["next_setting"] == _sunset(date(2024, 6, 1)).isoformat()
    assert state.attributes["rising"] is True  # 10:00 UTC is before solar noon (11:38 UTC)
    assert set(state.attributes) == {"next_dawn", "next_dusk", "next_midnight", "next_noon", "next_rising", "next_setting", "elevation", "azimuth", "rising", "friendly_name"}
    assert state.attributes["friendly_name"] == "Sun"
