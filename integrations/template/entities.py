"""Template entities: sensor, binary_sensor, switch, number, select, button, their state from templates.

A state-based entity re-renders its templates whenever what they read changes; a trigger-based
one (a block with `triggers:`) renders them when a trigger fires, with `trigger` among the
variables. What Home Assistant documents for each: an error in the state template makes the
entity unavailable, `availability` false makes it unavailable, `attributes` are rendered one
by one, a binary sensor waits `delay_on`/`delay_off` and a trigger-based one turns itself off
after `auto_off`; switch, number, select and button run their action sequences.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from automations.conditions import render_value, result_as_boolean
from automations.config import normalize_actions
from automations.script import Script
from automations.timeutil import to_timedelta
from automations.triggers.tracker import TemplateTracker
from hub.core.entity import (
    BinarySensorEntity,
    ButtonEntity,
    Entity,
    NumberEntity,
    SelectEntity,
    SensorEntity,
    SwitchEntity,
)
from hub.core.states import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from hub.exceptions import HubError, TemplateError
from hub.templating import Template, TemplateState
from hub.util import slugify
from integrations.sensor.calculated import format_state

if TYPE_CHECKING:
    from hub.core.context import Context
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

DEFAULT_NAMES = {
    "sensor": "Template Sensor",
    "binary_sensor": "Template Binary Sensor",
    "switch": "Template Switch",
    "number": "Template Number",
    "select": "Template Select",
    "button": "Template Button",
}


def _template(hub: Hub, value: Any) -> Template | None:
    if value is None:
        return None
    template = Template(str(value), hub)
    template.ensure_valid()
    return template


class TemplateMixin(Entity):
    """What every template entity shares: its templates, availability, attributes, variables."""

    hub: Hub

    def setup_templates(self, hub: Hub, config: Mapping[str, Any], unique_prefix: str | None, trigger_based: bool) -> None:
        """Read the common keys (name, unique_id, icon, picture, availability, attributes)."""
        self.hub = hub
        self.config = config
        self.trigger_based = trigger_based
        name = config.get("name")
        name_template = _template(hub, name) if isinstance(name, str) else None
        self._name_template = name_template if name_template is not None and not name_template.is_static else None
        self.name = str(name) if name is not None and self._name_template is None else DEFAULT_NAMES[self.domain]
        if self._name_template is not None:
            try:
                self.name = str(self._name_template.render(parse_result=False))
            except TemplateError:
                self.name = DEFAULT_NAMES[self.domain]
        unique_id = config.get("unique_id")
        self.unique_id = f"{unique_prefix}-{unique_id}" if unique_prefix and unique_id else unique_id
        if config.get("default_entity_id"):
            self.entity_id = str(config["default_entity_id"])
        elif config.get("object_id"):
            self.entity_id = f"{self.domain}.{slugify(str(config['object_id']))}"
        self._icon = _template(hub, config.get("icon"))
        self._picture = _template(hub, config.get("picture"))
        self._availability = _template(hub, config.get("availability"))
        self._attributes = {key: _template(hub, value) for key, value in (config.get("attributes") or {}).items()}
        self._state_template = _template(hub, config.get("state"))
        self._variables: Mapping[str, Any] = config.get("variables") or {}
        self.device_class = config.get("device_class")
        self._trackers: list[TemplateTracker] = []
        self.rendered_attributes: dict[str, Any] = {}

    # ---- rendering ----

    def variables(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The variables of a render: `this` (the entity's state), the trigger's, the entity's own."""
        state = self.hub.states.get(self.entity_id) if self.entity_id else None
        values: dict[str, Any] = {"this": TemplateState(self.hub, state, collect=False) if state is not None else None}
        values.update(extra or {})
        for key, value in self._variables.items():
            values[key] = render_value(self.hub, value, values)
        return values

    def render_all(self, variables: Mapping[str, Any]) -> None:
        """Render every template once (trigger-based entities, on each trigger)."""
        values = dict(variables)
        if self._availability is not None:
            try:
                self.available = result_as_boolean(self._availability.render(values))
            except TemplateError as err:
                _LOGGER.error("%s: availability: %s", self.entity_id, err)
                self.available = False
        for name, template in (("icon", self._icon), ("entity_picture", self._picture), ("name", self._name_template)):
            if template is not None:
                try:
                    setattr(self, name, template.render(values, parse_result=False))
                except TemplateError as err:
                    _LOGGER.error("%s: %s: %s", self.entity_id, name, err)
        self._render_attributes(values)
        if self._state_template is not None and self.available:
            try:
                self.apply_state(self._state_template.render(values))
            except TemplateError as err:
                _LOGGER.error("%s: state: %s", self.entity_id, err)
                self.available = False

    def _render_attributes(self, values: dict[str, Any]) -> None:
        attributes: dict[str, Any] = {}
        for key, template in self._attributes.items():
            if template is None:
                continue
            try:
                attributes[key] = template.render(values)
            except TemplateError as err:
                _LOGGER.error("%s: attribute %s: %s", self.entity_id, key, err)
        self.rendered_attributes = attributes

    def apply_state(self, result: Any) -> None:
        """Take a rendered state (override per domain)."""

    def state_attributes(self) -> dict[str, Any]:
        """The rendered attributes, then the entity's own."""
        attrs = dict(self.rendered_attributes) if self.available else {}
        attrs.update(super().state_attributes())
        return attrs

    # ---- state-based: track each template ----

    async def added_to_hub(self) -> None:
        """Restore (trigger-based) or start tracking the templates (state-based)."""
        if self.trigger_based:
            self.restore()
            return
        self._availability_ok = True
        if self._availability is not None:
            self._track(self._availability, self._availability_rendered)
        for name, template in (("icon", self._icon), ("entity_picture", self._picture), ("name", self._name_template)):
            if template is not None:
                self._track(template, self._attribute_setter(name))
        for key, template in self._attributes.items():
            if template is not None:
                self._track(template, self._extra_setter(key))
        if self._state_template is not None:
            self._track(self._state_template, self._state_rendered)

    def restore(self) -> None:
        """Trigger-based entities keep their last state across restarts (override per domain)."""

    async def will_remove_from_hub(self) -> None:
        """Stop tracking."""
        for tracker in self._trackers:
            tracker.stop()
        self._trackers.clear()

    def _track(self, template: Template, handle: Callable[[Any, Exception | None], None]) -> None:
        def rendered(result: Any, error: Exception | None, event: Any) -> None:
            handle(result, error)
            if self.hub.entities.get(self.entity_id or "") is self:
                self.write_state()

        tracker = TemplateTracker(self.hub, template, self.variables(), rendered)
        self._trackers.append(tracker)
        tracker.start()

    def _availability_rendered(self, result: Any, error: Exception | None) -> None:
        self._availability_ok = error is None and result_as_boolean(result)
        self._update_available()

    def _state_rendered(self, result: Any, error: Exception | None) -> None:
        self._state_error = error is not None
        if error is not None:
            _LOGGER.error("%s: state: %s", self.entity_id, error)
        else:
            self.apply_state(result)
        self._update_available()

    def _update_available(self) -> None:
        self.available = getattr(self, "_availability_ok", True) and not getattr(self, "_state_error", False)

    def _attribute_setter(self, name: str) -> Callable[[Any, Exception | None], None]:
        def handle(result: Any, error: Exception | None) -> None:
            if error is None:
                setattr(self, name, None if result in (None, "") else str(result))

        return handle

    def _extra_setter(self, key: str) -> Callable[[Any, Exception | None], None]:
        def handle(result: Any, error: Exception | None) -> None:
            if error is None:
                self.rendered_attributes = {**self.rendered_attributes, key: result}

        return handle

    # ---- actions ----

    def script(self, key: str) -> Script | None:
        """The compiled action sequence under key (turn_on, set_value ...), or None."""
        sequence = self.config.get(key)
        if sequence is None:
            return None
        item_id = f"{self.unique_id or self.name}.{key}"
        steps = normalize_actions(sequence)
        return Script(self.hub, steps, name=f"{self.name} {key}", domain="template", item_id=item_id, mode="parallel", max_runs=100)

    async def run(self, script: Script | None, context: Context | None, **variables: Any) -> None:
        """Run an action sequence with this entity's variables and wait for it."""
        if script is not None:
            await script.run(self.variables(variables), context)


class TemplateSensor(TemplateMixin, SensorEntity):
    """A sensor whose value is a template."""

    def __init__(self, hub: Hub, config: Mapping[str, Any], unique_prefix: str | None = None, trigger_based: bool = False) -> None:
        self.setup_templates(hub, config, unique_prefix, trigger_based)
        self.unit_of_measurement = config.get("unit_of_measurement")
        self.state_class = config.get("state_class")
        self._last_reset = _template(hub, config.get("last_reset"))

    def apply_state(self, result: Any) -> None:
        """Numbers are written as Home Assistant writes them; None is unknown."""
        self.native_value = None if result is None or result == "" else format_state(result)

    def restore(self) -> None:
        """Keep the last state of a trigger-based sensor."""
        state = self.hub.states.get(self.entity_id) if self.entity_id else None
        if state is not None and not state.attributes.get("restored") and state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            self.native_value = state.state


class TemplateBinarySensor(TemplateMixin, BinarySensorEntity):
    """On or off from a template, with delay_on/delay_off, and auto_off for a trigger-based one."""

    def __init__(self, hub: Hub, config: Mapping[str, Any], unique_prefix: str | None = None, trigger_based: bool = False) -> None:
        self.setup_templates(hub, config, unique_prefix, trigger_based)
        self._delay_on = config.get("delay_on")
        self._delay_off = config.get("delay_off")
        self._auto_off = config.get("auto_off")
        self._pending: Callable[[], None] | None = None
        self._auto_off_cancel: Callable[[], None] | None = None

    def _seconds(self, value: Any) -> float:
        if value is None:
            return 0.0
        return to_timedelta(value, lambda v: render_value(self.hub, v, self.variables())).total_seconds()

    def apply_state(self, result: Any) -> None:
        """Turn on or off, after the delay for that direction."""
        wanted = None if result is None else result_as_boolean(result)
        if self._pending is not None:
            self._pending()
            self._pending = None
        delay = self._seconds(self._delay_on if wanted else self._delay_off) if wanted is not None and self.is_on is not None else 0.0
        if wanted is not None and wanted != self.is_on and delay > 0:
            def later() -> None:
                self._pending = None
                self._set(wanted)
                self.write_state()

            self._pending = self.hub.clock.call_later(delay, later)
            return
        self._set(wanted)

    def _set(self, wanted: bool | None) -> None:
        self.is_on = wanted
        if self._auto_off_cancel is not None:
            self._auto_off_cancel()
            self._auto_off_cancel = None
        if wanted and self.trigger_based and self._auto_off is not None:
            seconds = self._seconds(self._auto_off)

            def off() -> None:
                self._auto_off_cancel = None
                self.is_on = False
                self.write_state()

            self._auto_off_cancel = self.hub.clock.call_later(seconds, off)

    def restore(self) -> None:
        """Keep the last state of a trigger-based binary sensor."""
        state = self.hub.states.get(self.entity_id) if self.entity_id else None
        if state is not None and state.state in (STATE_ON, STATE_OFF):
            self.is_on = state.state == STATE_ON

    async def will_remove_from_hub(self) -> None:
        """Also cancel the delays."""
        await super().will_remove_from_hub()
        for cancel in (self._pending, self._auto_off_cancel):
            if cancel is not None:
                cancel()


class TemplateSwitch(TemplateMixin, SwitchEntity):
    """A switch whose state is a template (optimistic without one) and whose actions are sequences."""

    def __init__(self, hub: Hub, config: Mapping[str, Any], unique_prefix: str | None = None, trigger_based: bool = False) -> None:
        self.setup_templates(hub, config, unique_prefix, trigger_based)
        self.optimistic = self._state_template is None or bool(config.get("optimistic", False))
        self.assumed_state = self._state_template is None
        self._on = self.script("turn_on")
        self._off = self.script("turn_off")

    def apply_state(self, result: Any) -> None:
        """on/off/true/false; anything else is unknown."""
        self.is_on = None if result is None else result_as_boolean(result)

    async def turn_on(self, **kwargs: Any) -> None:
        """Run turn_on; set on at once when optimistic."""
        await self.run(self._on, self.context)
        if self.optimistic:
            self.is_on = True
            self.write_state()

    async def turn_off(self, **kwargs: Any) -> None:
        """Run turn_off; set off at once when optimistic."""
        await self.run(self._off, self.context)
        if self.optimistic:
            self.is_on = False
            self.write_state()


class TemplateNumber(TemplateMixin, NumberEntity):
    """A number whose value is a template and whose set_value is a sequence (with `value`)."""

    def __init__(self, hub: Hub, config: Mapping[str, Any], unique_prefix: str | None = None, trigger_based: bool = False) -> None:
        self.setup_templates(hub, config, unique_prefix, trigger_based)
        self.native_min_value = float(config.get("min", 0.0))
        self.native_max_value = float(config.get("max", 100.0))
        self.native_step = float(config.get("step", 1.0))
        self.unit_of_measurement = config.get("unit_of_measurement")
        self.optimistic = bool(config.get("optimistic", False)) or self._state_template is None
        self._set = self.script("set_value")

    def apply_state(self, result: Any) -> None:
        """A number, or unknown."""
        try:
            self.native_value = float(result)
        except (TypeError, ValueError):
            self.native_value = None

    async def set_value(self, value: float) -> None:
        """Run set_value with `value`."""
        await self.run(self._set, self.context, value=value)
        if self.optimistic:
            self.native_value = value
            self.write_state()


class TemplateSelect(TemplateMixin, SelectEntity):
    """A select whose options and state are templates and whose select_option is a sequence."""

    def __init__(self, hub: Hub, config: Mapping[str, Any], unique_prefix: str | None = None, trigger_based: bool = False) -> None:
        self.setup_templates(hub, config, unique_prefix, trigger_based)
        self._options_template = _template(hub, config.get("options"))
        self.options = []
        self.optimistic = bool(config.get("optimistic", False)) or self._state_template is None
        self._select = self.script("select_option")

    async def added_to_hub(self) -> None:
        """Also track the options."""
        if self._options_template is not None and not self.trigger_based:
            self._track(self._options_template, self._options_rendered)
        await super().added_to_hub()

    def _options_rendered(self, result: Any, error: Exception | None) -> None:
        if error is None:
            self.options = [str(option) for option in result] if isinstance(result, (list, tuple)) else []

    def render_all(self, variables: Mapping[str, Any]) -> None:
        """Options first, then the rest."""
        if self._options_template is not None:
            try:
                self._options_rendered(self._options_template.render(dict(variables)), None)
            except TemplateError as err:
                _LOGGER.error("%s: options: %s", self.entity_id, err)
        super().render_all(variables)

    def apply_state(self, result: Any) -> None:
        """The selected option (unknown when it is not one of the options)."""
        self.current_option = None if result is None else str(result)

    async def select_option(self, option: str) -> None:
        """Run select_option with `option`."""
        await self.run(self._select, self.context, option=option)
        if self.optimistic:
            self.current_option = option
            self.write_state()


class TemplateButton(TemplateMixin, ButtonEntity):
    """A button whose press is a sequence."""

    def __init__(self, hub: Hub, config: Mapping[str, Any], unique_prefix: str | None = None, trigger_based: bool = False) -> None:
        self.setup_templates(hub, config, unique_prefix, trigger_based)
        self._press = self.script("press")

    async def press(self) -> None:
        """Run press."""
        await self.run(self._press, self.context)


KINDS: dict[str, type[TemplateMixin]] = {
    "sensor": TemplateSensor,
    "binary_sensor": TemplateBinarySensor,
    "switch": TemplateSwitch,
    "number": TemplateNumber,
    "select": TemplateSelect,
    "button": TemplateButton,
}


def duration(value: Any) -> timedelta:
    """A duration option (delay_on, auto_off ...), templates allowed."""
    if isinstance(value, str) and "{" in value:
        return timedelta(0)
    return to_timedelta(value)


def build(hub: Hub, domain: str, config: Mapping[str, Any], unique_prefix: str | None, trigger_based: bool) -> TemplateMixin:
    """Build one template entity.

    Raises:
        HubError: a template does not compile.
    """
    try:
        return KINDS[domain](hub, config, unique_prefix, trigger_based)  # type: ignore[call-arg]
    except TemplateError as err:
        raise HubError(str(err)) from err
