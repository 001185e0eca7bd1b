"""What a render listens to, and MQTT-style value rendering.

Source: https://www.home-assistant.io/docs/configuration/templating/ ("Using templates with the
MQTT integration": `value` and `value_json`) and Home Assistant's RenderInfo semantics
(helpers/template render_info: entities, domains, all states, time).
"""

from __future__ import annotations

import gc
import weakref

from hub.core.hub import Hub
from hub.templating import Template
from hub.templating.render_info import ALL_STATES_RATE_LIMIT, DOMAIN_STATES_RATE_LIMIT


def test_render_info_records_entities_domains_and_time(hub: Hub) -> None:
    hub.states.set("sensor.power", "12")
    hub.states.set("switch.relay", "on")
    info = Template("{{ states('sensor.power') | float > 10 and is_state('switch.relay', 'on') }}", hub).render_info()
    assert info.result is True
    assert info.entities == {"sensor.power", "switch.relay"}
    assert not info.domains and not info.all_states and not info.has_time
    assert info.rate_limit is None and info.filter("sensor.power") and not info.filter("sensor.other")

    info = Template("{{ states.switch | selectattr('state', 'eq', 'on') | list | count }}", hub).render_info()
    assert info.domains == {"switch"} and info.rate_limit == DOMAIN_STATES_RATE_LIMIT
    assert info.filter("switch.anything")

    info = Template("{{ states | count }}", hub).render_info()
    assert info.all_states_lifecycle and info.rate_limit == ALL_STATES_RATE_LIMIT

    info = Template("{{ now().hour }}", hub).render_info()
    assert info.has_time and not info.entities

    info = Template("{{ 1 / 0 }}", hub).render_info()
    assert info.exception is not None and info.result is None

    static = Template("just text", hub)
    assert static.is_static and static.render_info().is_static


def test_render_with_possible_json_value(hub: Hub) -> None:
    template = Template("{{ value_json.power }}", hub)
    assert template.render_with_possible_json_value('{"power": 1500}') == "1500"
    # Not JSON: the raw payload comes back (or the given default) and nothing raises.
    assert template.render_with_possible_json_value("garbage") == "garbage"
    assert template.render_with_possible_json_value("garbage", default="x") == "x"
    assert Template("{{ value | float * 2 }}", hub).render_with_possible_json_value("21") == "42.0"
    assert Template("{{ value_json.a }}", hub).render_with_possible_json_value(b'{"a": 1}') == "1"
    assert Template("{{ value }}-{{ suffix }}", hub).render_with_possible_json_value("on", variables={"suffix": "x"}) == "on-x"


def test_compiled_once_per_source(hub: Hub) -> None:
    first = Template("{{ 1 + 1 }}", hub)
    second = Template("{{ 1 + 1 }}", hub)
    first.render()
    second.render()
    assert first._plain is not None and first._plain is second._plain


async def test_a_hub_that_rendered_templates_can_be_freed() -> None:
    hub = Hub()
    hub.states.set("sensor.power", "12")
    assert Template("{{ states('sensor.power') | int + 1 }}", hub).render() == 13
    await hub.stop()
    gone = weakref.ref(hub)
    del hub
    gc.collect()
    # No process-wide cache holds on to a hub (one process hosts many homes over its life).
    assert gone() is None
