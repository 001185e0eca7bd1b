"""Template behaviour that differed from Home Assistant's, each with HA's documented output."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.core.clock import ManualClock
from hub.core.hub import Hub
from hub.exceptions import TemplateError
from hub.templating import Template


@pytest.fixture
def states(hub: Hub) -> Hub:
    hub.clock = ManualClock(datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
    hub.states.set("sensor.power", "1500", {"unit_of_measurement": "W"})
    hub.states.set("sensor.voltage", "231.4", {"unit_of_measurement": "V"})
    hub.states.set("light.kitchen", "on")
    return hub


def render(hub: Hub, source: str) -> object:
    return Template(source, hub).render()


def listeners(hub: Hub, source: str) -> dict[str, object]:
    info = Template(source, hub).render_info()
    assert info.exception is None, info.exception
    return info.listeners()


def test_states_is_a_filter_too(states: Hub) -> None:
    assert render(states, "{{ 'sensor.power' | states }}") == 1500
    assert render(states, "{{ ['sensor.power', 'sensor.voltage'] | map('states') | list }}") == ["1500", "231.4"]


def test_an_invalid_entity_id_is_an_error_not_null(states: Hub) -> None:
    for source in ("{{ states.sensor['Not valid'] }}", "{{ states['sensor.Not valid'] }}", "{{ state_translated('nope') }}"):
        with pytest.raises(TemplateError, match="Invalid entity ID"):
            render(states, source)
    with pytest.raises(TemplateError, match="Invalid domain name 'Bad-domain'"):
        render(states, "{{ states['Bad-domain'] }}")
    assert render(states, "{{ states.sensor.missing }}") is None  # valid but missing: none, no error


def test_average_median_mode_take_a_positional_default(states: Hub) -> None:
    assert render(states, "{{ average([], -1) }}") == -1
    assert render(states, "{{ median([], 'none') }}") == "none"
    assert render(states, "{{ average([1, 2, 3]) }}") == 2.0
    assert render(states, "{{ average(1, 2, 3) }}") == 2.0
    with pytest.raises(TemplateError, match="average got invalid input"):
        render(states, "{{ average([]) }}")


def test_min_and_max_of_one_value_are_errors(states: Hub) -> None:
    with pytest.raises(TemplateError, match="'int' object is not iterable"):
        render(states, "{{ min(1) }}")
    with pytest.raises(TemplateError, match="'int' object is not iterable"):
        render(states, "{{ max(5) }}")
    assert render(states, "{{ min(3, 1, 2) }}, {{ max([3, 1, 2]) }}") == (1, 3)  # HA parses "1, 3" as a tuple


def test_version_compares_as_awesomeversion(states: Hub) -> None:
    assert render(states, "{{ version('2024.1.0b1') < '2024.1.0' }}") is True
    assert render(states, "{{ version('2024.10.1') > '2024.9.4' }}") is True
    with pytest.raises(TemplateError, match="AwesomeVersionCompareException"):
        render(states, "{{ version(None) < '1.0' }}")


def test_relative_time_gives_the_largest_whole_unit(states: Hub) -> None:
    assert render(states, "{{ relative_time(now() - timedelta(days=15)) }}") == "15 days"
    assert render(states, "{{ relative_time(now() - timedelta(days=45)) }}") == "2 months"
    assert render(states, "{{ relative_time(now() - timedelta(hours=1, minutes=40)) }}") == "2 hours"
    assert render(states, "{{ time_since(now() - timedelta(days=15, hours=3), 2) }}") == "15 days 3 hours"
    assert render(states, "{{ relative_time(now() - timedelta(seconds=0)) }}") == "0 seconds"


def test_tests_and_truthiness_listen_as_home_assistant_does(states: Hub) -> None:
    # Tests with constant arguments are evaluated while compiling, as in HA: they listen to nothing.
    assert listeners(states, "{{ 'light.kitchen' is is_state('on') }}")["entities"] == []
    assert listeners(states, "{{ 'sensor.power' is has_value }}")["entities"] == []
    # Whether a state exists reads nothing of it; a missing one is listened for.
    assert listeners(states, "{% if states.light.kitchen %}yes{% endif %}")["entities"] == []
    assert listeners(states, "{% if states.light.hall %}yes{% endif %}")["entities"] == ["light.hall"]
    # Reading it does listen.
    assert listeners(states, "{{ states.light.kitchen.state }}")["entities"] == ["light.kitchen"]
    assert listeners(states, "{{ is_state('light.kitchen', 'on') }}")["entities"] == ["light.kitchen"]


def test_a_test_evaluated_while_compiling_is_fresh_for_the_next_template(states: Hub) -> None:
    assert render(states, "{{ 'light.kitchen' is is_state('on') }}") is True
    states.states.set("light.kitchen", "off")
    assert render(states, "{{ 'light.kitchen' is is_state('on') }}") is False


def test_states_with_unit_keeps_the_value_without_a_display_precision(states: Hub) -> None:
    assert render(states, "{{ states('sensor.voltage', with_unit=True) }}") == "231.4 V"
