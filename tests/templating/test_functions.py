"""Template functions, filters and tests, from the examples of Home Assistant's templating page.

Source: https://www.home-assistant.io/docs/configuration/templating/ (and the cases of
home-assistant/core tests/helpers/test_template.py for the exact error texts).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.core.clock import ManualClock
from hub.core.hub import Hub
from hub.templating import Template, TemplateError


def render(hub: Hub, source: str, **variables: object) -> object:
    return Template(source, hub).render(variables)


@pytest.fixture(autouse=True)
def _states(hub: Hub) -> None:
    hub.states.set("sensor.temperature", "23.456", {"unit_of_measurement": "°C", "friendly_name": "Temperature"})
    hub.states.set("device_tracker.paulus", "home", {"battery": 40, "friendly_name": "Paulus"})
    hub.states.set("light.kitchen", "on", {"brightness": 180})
    hub.states.set("light.bedroom", "off")
    hub.states.set("group.lights", "on", {"entity_id": ["light.kitchen", "light.bedroom"]})
    hub.states.set("sensor.unavailable", "unavailable")


def test_states_access_forms(hub: Hub) -> None:
    assert render(hub, "{{ states('sensor.temperature') }}") == 23.456
    assert render(hub, "{{ states.sensor.temperature.state }}") == 23.456
    assert render(hub, "{{ states['sensor.temperature'].state }}") == 23.456
    assert render(hub, "{{ states('sensor.missing') }}") == "unknown"
    assert render(hub, "{{ states.sensor.temperature.state_with_unit }}") == "23.456 °C"
    assert render(hub, "{{ states('sensor.temperature', with_unit=True) }}") == "23.456 °C"
    assert render(hub, "{{ states.light | count }}") == 2
    assert render(hub, "{{ states.light | map(attribute='entity_id') | list }}") == ["light.bedroom", "light.kitchen"]
    state = "{{ states.device_tracker.paulus.name }} {{ states.device_tracker.paulus.domain }} {{ states.device_tracker.paulus.object_id }}"
    assert render(hub, state) == "Paulus device_tracker paulus"


def test_docs_examples_state_helpers(hub: Hub) -> None:
    # "{% if is_state('device_tracker.paulus', 'home') %}Ha, Paulus is home!{% endif %}"
    assert render(hub, "{% if is_state('device_tracker.paulus', 'home') %}Ha, Paulus is home!{% else %}Paulus is at {{ states('device_tracker.paulus') }}.{% endif %}") == "Ha, Paulus is home!"
    assert render(hub, "{{ is_state('device_tracker.paulus', ['home', 'work']) }}") is True
    assert render(hub, "{{ state_attr('device_tracker.paulus', 'battery') }}") == 40
    assert render(hub, "{{ is_state_attr('device_tracker.paulus', 'battery', 40) }}") is True
    assert render(hub, "{{ has_value('sensor.unavailable') }}") is False
    assert render(hub, "{{ 'light.kitchen' | has_value }}") is True
    assert render(hub, "{{ 'light.kitchen' is is_state('on') }}") is True
    assert render(hub, "{{ expand('group.lights') | map(attribute='entity_id') | list }}") == ["light.bedroom", "light.kitchen"]
    assert render(hub, "{{ expand('group.lights') | selectattr('state', 'eq', 'on') | map(attribute='name') | list }}") == ["kitchen"]


def test_numeric_conversions_and_defaults(hub: Hub) -> None:
    assert render(hub, "{{ states('sensor.temperature') | float + 1 }}") == pytest.approx(24.456)
    assert render(hub, "{{ 'bad' | float(1) }}") == 1
    assert render(hub, "{{ float('bad', default=2) }}") == 2
    assert render(hub, "{{ '3.7' | int }}") == 3
    assert render(hub, "{{ '0x10' | int(base=16) }}") == 16
    assert render(hub, "{{ 'on' | bool }}") is True
    assert render(hub, "{{ bool('nope', 'x') }}") == "x"
    with pytest.raises(TemplateError, match="float got invalid input 'forgiving' when rendering template"):
        render(hub, "{{ float('forgiving') }}")
    with pytest.raises(TemplateError, match="int got invalid input 'bad'"):
        render(hub, "{{ 'bad' | int }}")
    with pytest.raises(TemplateError, match="round got invalid input 'None'"):
        render(hub, "{{ None | round }}")
    with pytest.raises(TemplateError, match="bool got invalid input 'unknown'"):
        render(hub, "{{ bool('unknown') }}")


def test_round_methods(hub: Hub) -> None:
    assert render(hub, "{{ states('sensor.temperature') | round(1) }}") == 23.5
    assert render(hub, "{{ 2.5 | round }}") == 2  # half to even, as Python
    assert render(hub, "{{ 3.14159 | round(2, 'floor') }}") == 3.14
    assert render(hub, "{{ 3.141 | round(2, 'ceil') }}") == 3.15
    assert render(hub, "{{ 3.3 | round(1, 'half') }}") == 3.5
    assert render(hub, "{{ 'x' | round(1, default=0) }}") == 0


def test_maths_and_statistics(hub: Hub) -> None:
    assert render(hub, "{{ 100 | log(10) }}") == 2.0
    assert render(hub, "{{ sqrt(16) }}") == 4.0
    assert render(hub, "{{ (pi | round(2)) }}") == 3.14
    assert render(hub, "{{ average(1, 2, 3) }}") == 2.0
    assert render(hub, "{{ [1, 2, 3, 10] | median }}") == 2.5
    assert render(hub, "{{ statistical_mode([1, 2, 2, 3]) }}") == 2
    assert render(hub, "{{ min([5, 2, 9]) }} {{ max(5, 2, 9) }}") == "2 9"
    assert render(hub, "{{ average([], default=0) }}") == 0
    assert render(hub, "{{ 10 | multiply(2.5) }} {{ 1 | add(2) }}") == "25.0 3.0"
    assert render(hub, "{{ is_number('1e3') }} {{ 'abc' is is_number }}") == "True False"


def test_iif(hub: Hub) -> None:
    assert render(hub, "{{ iif(is_state('light.kitchen', 'on'), 'yes', 'no') }}") == "yes"
    assert render(hub, "{{ (states('light.bedroom') == 'on') | iif('yes', 'no') }}") == "no"
    assert render(hub, "{{ iif(None, 'yes', 'no', 'none') }}") == "none"


def test_regex_json_text(hub: Hub) -> None:
    assert render(hub, "{{ 'Home Assistant' | regex_match('home', ignorecase=True) }}") is True
    assert render(hub, "{{ 'Home Assistant' is search('Assist') }}") is True
    assert render(hub, "{{ 'Hello World' | regex_replace('World', 'Hub') }}") == "Hello Hub"
    assert render(hub, "{{ 'a1b22c333' | regex_findall('\\\\d+') }}") == ["1", "22", "333"]
    assert render(hub, "{{ 'a1b22' | regex_findall_index('\\\\d+', 1) }}") == 22
    assert Template("{{ {'a': 1} | to_json }}", hub).render(parse_result=False) == '{"a":1}'
    assert render(hub, "{{ ('{\"t\": 21}' | from_json).t }}") == 21
    assert render(hub, "{{ 'hub' | base64_encode }}") == "aHVi"
    assert render(hub, "{{ 'aHVi' | base64_decode }}") == "hub"
    assert render(hub, "{{ 'Living Room Lamp' | slugify }}") == "living_room_lamp"
    assert render(hub, "{{ 'Straße' | slugify }} {{ slugify('Küche Decke', '-') }}") == "strasse kuche-decke"
    assert render(hub, "{{ '$$$' | slugify }}|{{ '' | slugify }}|{{ 12 | slugify }}") == "unknown||12"
    assert render(hub, "{{ {'foo': 'x&y', 'bar': 42} | urlencode }}") == "foo=x%26y&bar=42"
    assert render(hub, "{{ 1 | ordinal }} {{ 12 | ordinal }} {{ 23 | ordinal }}") == "1st 12th 23rd"
    assert render(hub, "{{ 'a' | ord }}") == 97
    assert render(hub, "{{ 0xF0 | bitwise_and(0x30) }} {{ bitwise_or(1, 2) }} {{ 5 | bitwise_xor(1) }}") == "48 3 4"
    assert render(hub, "{{ 0xDEADBEEF | pack('>I') | unpack('>I') }}") == 0xDEADBEEF
    assert render(hub, "{{ [1, 2] | contains(2) }} {{ [1, 2] is contains 3 }}") == "True False"
    assert render(hub, "{{ set([1, 1, 2]) | list }} {{ tuple([1]) is tuple }}") == "[1, 2] True"
    assert render(hub, "{{ zip([1, 2], ['a', 'b']) | list }}") == [(1, "a"), (2, "b")]
    assert render(hub, "{{ [1, [2, [3]]] | flatten }}") == [1, 2, 3]
    assert render(hub, "{{ combine({'a': 1}, {'b': 2}) }}") == {"a": 1, "b": 2}
    assert render(hub, "{{ 1.5 | typeof }}") == "float"


def test_is_defined_and_undefined(hub: Hub) -> None:
    assert render(hub, "{{ missing }}") == ""
    with pytest.raises(TemplateError, match="missing"):
        render(hub, "{{ missing | is_defined }}")
    with pytest.raises(TemplateError, match="undefined"):
        Template("{{ missing }}", hub).render(strict=True)


async def test_time_functions_read_the_hub_clock(hub: Hub, clock: ManualClock) -> None:
    assert render(hub, "{{ now().isoformat() }}") == "2024-01-01T12:00:00+00:00"
    assert render(hub, "{{ utcnow().hour }}") == 12
    await clock.advance(3600)
    assert render(hub, "{{ now().hour }}") == 13
    assert render(hub, "{{ today_at('10:15') < now() }}") is True
    assert render(hub, "{{ as_timestamp('2024-01-01T00:00:00+00:00') }}") == 1704067200.0
    assert render(hub, "{{ as_timestamp('bad', 0) }}") == 0
    assert render(hub, "{{ as_datetime('2024-01-01T00:00:00+00:00').year }}") == 2024
    assert render(hub, "{{ as_datetime(1704067200).isoformat() }}") == "2024-01-01T00:00:00+00:00"
    assert render(hub, "{{ 1704067200 | timestamp_custom('%H:%M', false) }}") == "00:00"
    assert render(hub, "{{ 1704067200 | timestamp_utc }}") == "2024-01-01T00:00:00+00:00"
    assert render(hub, "{{ relative_time(now() - timedelta(hours=2)) }}") == "2 hours"
    assert render(hub, "{{ time_until(now() + timedelta(minutes=5)) }}") == "5 minutes"
    assert render(hub, "{{ as_timedelta('00:10:00').total_seconds() }}") == 600.0
    assert render(hub, "{{ strptime('2024-02-03', '%Y-%m-%d').day }}") == 3
    assert render(hub, "{{ (now() - as_datetime('2024-01-01T00:00:00+00:00')) > timedelta(hours=12) }}") is True
    with pytest.raises(TemplateError, match="could not convert str to datetime: 'bad'"):
        render(hub, "{{ today_at('bad') }}")
    with pytest.raises(TemplateError, match="strptime got invalid input 'invalid'"):
        render(hub, "{{ strptime('invalid', '%Y') }}")


async def test_local_time_zone(core_hub: Hub) -> None:
    core_hub.clock = ManualClock(datetime(2024, 7, 1, 10, 0, tzinfo=UTC), time_zone="Europe/Amsterdam")
    assert render(core_hub, "{{ now().hour }}") == 12
    assert render(core_hub, "{{ today_at('00:00').isoformat() }}") == "2024-07-01T00:00:00+02:00"
    assert render(core_hub, "{{ as_local(utcnow()).hour }}") == 12
    assert datetime(2024, 7, 1, 10, tzinfo=UTC) - timedelta(0) == core_hub.clock.utcnow()


def test_parse_result_native_types(hub: Hub) -> None:
    assert render(hub, "{{ 12.0 }}") == 12.0
    assert render(hub, "{{ '0123' }}") == "0123"  # leading zeros stay text
    assert render(hub, "{{ True }}") is True
    assert render(hub, "{{ {'a': [1, 2]} }}") == {"a": [1, 2]}
    assert render(hub, "{{ '1e3' }}") == "1e3"
    assert render(hub, "  plain text  ") == "plain text"
    assert Template("{{ 12.0 }}", hub).render(parse_result=False) == "12.0"


def test_limited_templates_refuse_state_access(hub: Hub) -> None:
    cases = {
        "states": "{{ states('light.kitchen') }}",
        "now": "{{ now() }}",
        "is_state": "{{ is_state('a.b', 'on') }}",
        "expand": "{{ 'light.kitchen' | expand }}",
    }
    for name, source in cases.items():
        with pytest.raises(TemplateError, match=f"Use of '{name}' is not supported in limited templates"):
            Template(source, hub).render(limited=True)
    assert Template("{{ 1 + trig }}", hub).render({"trig": 2}, limited=True) == 3


def test_errors_name_template_and_line(hub: Hub) -> None:
    with pytest.raises(TemplateError) as err:
        Template("line one\n{{ 1 / 0 }}", hub).render()
    assert "line 2" in str(err.value) and "ZeroDivisionError" in str(err.value) and "line one" in str(err.value)
    with pytest.raises(TemplateError, match=r"Error compiling template '\{\{ x \}' at line 1"):
        Template("{{ x }", hub).render()
    with pytest.raises(TemplateError, match="SecurityError|unsafe"):
        Template("{{ ''.__class__.__mro__ }}", hub).render()


def test_loop_controls(hub: Hub) -> None:
    source = "{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}"
    assert render(hub, source) == "012"  # a leading zero keeps the result text
