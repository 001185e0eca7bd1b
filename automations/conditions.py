"""Conditions: state, numeric_state, template, time, and/or/not, trigger.

A condition config compiles once into a function `check(variables, trace) -> bool`; `trace`
(optional) receives `(path_suffix, result_dict)` for each nested condition so a run's trace
shows why it did or did not continue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from automations.config import InvalidConfig, ensure_list
from automations.timeutil import to_time, to_timedelta
from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN, State, valid_entity_id
from hub.exceptions import HubError, TemplateError
from hub.templating import Template, TemplateState
from hub.templating.functions import parse_boolean

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

# Records a condition's result under its path; what it returns is ignored.
Tracer = Callable[[str, dict[str, Any]], object] | None
Check = Callable[[Mapping[str, Any], Tracer], bool]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INPUT_DOMAINS = ("input_select", "input_text", "input_boolean", "input_number", "input_datetime")


class ConditionError(HubError):
    """A condition could not be evaluated (a template failed, a value is not a number)."""


def result_as_boolean(value: Any) -> bool:
    """Home Assistant's truthiness of a rendered template: true/yes/on/enable or a non-zero number."""
    if value is None:
        return False
    try:
        return parse_boolean(value)
    except ValueError:
        return False


def template_of(hub: Hub, value: Any) -> Template | None:
    """Return a Template for a string holding Jinja, else None."""
    if isinstance(value, str):
        template = Template(value, hub)
        if not template.is_static:
            template.ensure_valid()
            return template
    return None


def render_value(hub: Hub, value: Any, variables: Mapping[str, Any], parse: bool = True) -> Any:
    """Render templates inside a value (strings, lists, dicts), leaving everything else."""
    if isinstance(value, str):
        template = Template(value, hub)
        if template.is_static:
            return value
        return template.render(dict(variables), parse_result=parse)
    if isinstance(value, Mapping):
        return {render_value(hub, k, variables, parse): render_value(hub, v, variables, parse) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(hub, v, variables, parse) for v in value]
    return value


def compile_conditions(hub: Hub, configs: list[Mapping[str, Any]], path: str = "condition") -> Check:
    """Compile a list of conditions (all must pass)."""
    checks = [(f"{path}/{index}", compile_condition(hub, config)) for index, config in enumerate(configs)]

    def check_all(variables: Mapping[str, Any], trace: Tracer = None) -> bool:
        for step_path, check in checks:
            if not _traced(check, variables, trace, step_path):
                return False
        return True

    return check_all


def _traced(check: Check, variables: Mapping[str, Any], trace: Tracer, path: str) -> bool:
    if trace is None:
        return check(variables, None)
    try:
        result = check(variables, trace)
    except ConditionError as err:
        trace(path, {"result": False, "error": str(err)})
        return False
    trace(path, {"result": result})
    return result


def compile_condition(hub: Hub, config: Mapping[str, Any]) -> Check:
    """Compile one (normalized) condition.

    Raises:
        InvalidConfig: the condition is malformed or of an unknown type.
    """
    kind = config.get("condition")
    enabled = config.get("enabled", True)
    builder = _BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise InvalidConfig(f"unknown condition type {kind!r} (supported: {', '.join(sorted(_BUILDERS))})", config, "condition")
    check = builder(hub, config)
    if enabled is False:
        return _always
    return check


def _always(variables: Mapping[str, Any], trace: Tracer = None) -> bool:
    return True


def _entity_ids(config: Mapping[str, Any], key: str = "entity_id") -> list[str]:
    ids = ensure_list(config.get(key))
    if not ids:
        raise InvalidConfig(f"required key not provided: '{key}'", config, key)
    result = []
    for entity_id in ids:
        if not isinstance(entity_id, str) or not valid_entity_id(entity_id.lower()):
            raise InvalidConfig(f"invalid entity_id {entity_id!r}", config, key)
        result.append(entity_id.lower())
    return result


def _logic(hub: Hub, config: Mapping[str, Any]) -> Check:
    kind = config["condition"]
    children = [compile_condition(hub, child) for child in config.get("conditions", [])]

    def check(variables: Mapping[str, Any], trace: Tracer = None) -> bool:
        results = (child(variables, None) for child in children)
        if kind == "and":
            return all(results)
        if kind == "or":
            return any(results)
        return not any(results)

    return check


def _state_condition(hub: Hub, config: Mapping[str, Any]) -> Check:
    entity_ids = _entity_ids(config)
    if "state" not in config:
        raise InvalidConfig("required key not provided: 'state'", config, "state")
    wanted = [str(s) if s is not None else None for s in ensure_list(config["state"])] if config["state"] is not None else [None]
    attribute = config.get("attribute")
    match_any = config.get("match", "all") == "any"
    duration = config.get("for")
    clock = hub.clock

    def expected() -> set[Any]:
        values: set[Any] = set()
        for value in wanted:
            # A state may name an input entity: its current state is the wanted one.
            if isinstance(value, str) and value.partition(".")[0] in _INPUT_DOMAINS and valid_entity_id(value):
                found = hub.states.get(value)
                if found is not None:
                    values.add(found.state)
                continue
            values.add(value)
        return values

    def one(entity_id: str, variables: Mapping[str, Any]) -> bool:
        state = hub.states.get(entity_id)
        if state is None:
            return False
        if attribute is not None:
            value = state.attributes.get(attribute)
            allowed = expected()
            ok = value in allowed or (value is not None and str(value) in {str(a) for a in allowed if a is not None})
        else:
            ok = state.state in expected()
        if ok and duration is not None:
            wait = to_timedelta(duration, lambda v: render_value(hub, v, variables), config, "for")
            ok = clock.time() - state.last_changed_timestamp >= wait.total_seconds()
        return ok

    def check(variables: Mapping[str, Any], trace: Tracer = None) -> bool:
        results = (one(entity_id, variables) for entity_id in entity_ids)
        return any(results) if match_any else all(results)

    return check


def numeric_value(hub: Hub, state: State, attribute: str | None, template: Template | None, variables: Mapping[str, Any]) -> float | None:
    """The number a numeric_state trigger/condition compares, or None when there is none."""
    if template is not None:
        try:
            value: Any = template.render({**variables, "state": TemplateState(hub, state)})
        except TemplateError as err:
            raise ConditionError(str(err)) from err
    elif attribute is not None:
        value = state.attributes.get(attribute)
    else:
        value = state.state
        if value in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def limit_value(hub: Hub, limit: Any) -> float | None:
    """The value of an above/below limit: a number or the state of an entity."""
    if limit is None:
        return None
    if isinstance(limit, str) and valid_entity_id(limit):
        state = hub.states.get(limit)
        try:
            return float(state.state) if state is not None else None
        except ValueError:
            return None
    return float(limit)


def check_limits(hub: Hub, value: float, above: Any, below: Any) -> bool:
    """value is strictly inside (above, below); a limit entity without a number fails."""
    if above is not None:
        limit = limit_value(hub, above)
        if limit is None or value <= limit:
            return False
    if below is not None:
        limit = limit_value(hub, below)
        if limit is None or value >= limit:
            return False
    return True


def validate_limits(config: Mapping[str, Any]) -> None:
    """At least one of above/below, each a number or an entity_id."""
    if config.get("above") is None and config.get("below") is None:
        raise InvalidConfig("must contain at least one of below, above", config)
    for key in ("above", "below"):
        value = config.get(key)
        if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
            continue
        if isinstance(value, str) and valid_entity_id(value):
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            raise InvalidConfig(f"expected a number or an entity_id for '{key}', got {value!r}", config, key) from None


def _numeric_condition(hub: Hub, config: Mapping[str, Any]) -> Check:
    entity_ids = _entity_ids(config)
    validate_limits(config)
    above, below = config.get("above"), config.get("below")
    attribute = config.get("attribute")
    template = template_of(hub, config.get("value_template"))

    def check(variables: Mapping[str, Any], trace: Tracer = None) -> bool:
        for entity_id in entity_ids:
            state = hub.states.get(entity_id)
            if state is None:
                return False
            value = numeric_value(hub, state, attribute, template, variables)
            if value is None or not check_limits(hub, value, above, below):
                return False
        return True

    return check


def _template_condition(hub: Hub, config: Mapping[str, Any]) -> Check:
    source = config.get("value_template")
    if not isinstance(source, str):
        raise InvalidConfig("required key not provided: 'value_template'", config, "value_template")
    template = Template(source, hub)
    try:
        template.ensure_valid()
    except TemplateError as err:
        raise InvalidConfig(str(err), config, "value_template") from err

    def check(variables: Mapping[str, Any], trace: Tracer = None) -> bool:
        try:
            return result_as_boolean(template.render(dict(variables)))
        except TemplateError as err:
            raise ConditionError(str(err)) from err

    return check


def _time_of(hub: Hub, value: Any, config: Mapping[str, Any], key: str) -> Callable[[], time | None]:
    if isinstance(value, str) and valid_entity_id(value):
        def from_entity() -> time | None:
            state = hub.states.get(value)
            if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
                return None
            try:
                return to_time(state.state)
            except InvalidConfig:
                try:
                    moment = datetime.fromisoformat(state.state)
                except ValueError:
                    return None
                clock = hub.clock
                return (moment.astimezone(clock.time_zone) if moment.tzinfo else moment).time()

        return from_entity
    parsed = to_time(value, config, key)
    return lambda: parsed


def _time_condition(hub: Hub, config: Mapping[str, Any]) -> Check:
    after = _time_of(hub, config["after"], config, "after") if config.get("after") is not None else None
    before = _time_of(hub, config["before"], config, "before") if config.get("before") is not None else None
    weekdays = [str(d) for d in ensure_list(config.get("weekday"))]
    for day in weekdays:
        if day not in WEEKDAYS:
            raise InvalidConfig(f"invalid weekday {day!r} (expected one of {', '.join(WEEKDAYS)})", config, "weekday")
    clock = hub.clock

    def check(variables: Mapping[str, Any], trace: Tracer = None) -> bool:
        now = clock.now()
        start = after() if after is not None else time(0, 0)
        end = before() if before is not None else time(23, 59, 59, 999999)
        if start is None or end is None:
            return False
        current = now.time().replace(tzinfo=None)
        if start < end:
            ok = start <= current < end
        else:  # wraps midnight, e.g. after 22:00 before 06:00
            ok = current >= start or current < end
        if ok and weekdays:
            ok = WEEKDAYS[now.weekday()] in weekdays
        return ok

    return check


def _trigger_condition(hub: Hub, config: Mapping[str, Any]) -> Check:
    ids = {str(i) for i in ensure_list(config.get("id"))}
    if not ids:
        raise InvalidConfig("required key not provided: 'id'", config, "id")

    def check(variables: Mapping[str, Any], trace: Tracer = None) -> bool:
        trigger = variables.get("trigger")
        return isinstance(trigger, Mapping) and str(trigger.get("id")) in ids

    return check


def _sun_condition(hub: Hub, config: Mapping[str, Any]) -> Check:
    """Before/after sunrise/sunset today (with offsets), as Home Assistant's sun condition."""
    from automations.suntime import SUN_EVENTS, event_on  # noqa: PLC0415 - astral only when used

    before, after = config.get("before"), config.get("after")
    if before is None and after is None:
        raise InvalidConfig("must contain at least one of before, after", config)
    for key, value in (("before", before), ("after", after)):
        if value is not None and value not in SUN_EVENTS:
            raise InvalidConfig(f"expected '{key}' to be sunrise or sunset, got {value!r}", config, key)
    before_offset = to_timedelta(config.get("before_offset", 0), node=config, key="before_offset")
    after_offset = to_timedelta(config.get("after_offset", 0), node=config, key="after_offset")
    clock = hub.clock

    def check(variables: Mapping[str, Any], trace: Tracer = None) -> bool:
        now = clock.utcnow()
        today = now.astimezone(clock.time_zone).date()
        moments = {}
        for event in SUN_EVENTS:
            moment = event_on(hub, event, today)
            if moment is not None and event in (before, after) and today > moment.astimezone(clock.time_zone).date():
                moment = event_on(hub, event, today + timedelta(days=1))
            moments[event] = moment
        if before == "sunrise" and after == "sunset":
            sunrise, sunset = moments["sunrise"], moments["sunset"]
            if sunrise is None or sunset is None:
                return False
            return now < sunrise + before_offset or now > sunset + after_offset
        if any(moments[event] is None for event in (before, after) if event is not None):
            return False
        if before is not None and now > moments[before] + before_offset:  # type: ignore[operator]
            return False
        return not (after is not None and now < moments[after] + after_offset)  # type: ignore[operator]

    return check


def _zone_condition(hub: Hub, config: Mapping[str, Any]) -> Check:
    """Every entity (any, with match: any) is in one of the zones (HA's zone condition)."""
    from automations.zones import in_zone  # noqa: PLC0415

    entity_ids = _entity_ids(config)
    zones = _entity_ids(config, "zone")
    match_any = config.get("match", "all") == "any"

    def one(entity_id: str) -> bool:
        entity = hub.states.get(entity_id)
        return any(in_zone(hub.states.get(zone), entity) for zone in zones)

    def check(variables: Mapping[str, Any], trace: Tracer = None) -> bool:
        results = (one(entity_id) for entity_id in entity_ids)
        return any(results) if match_any else all(results)

    return check


_BUILDERS: dict[str, Callable[[Hub, Mapping[str, Any]], Check]] = {
    "and": _logic,
    "or": _logic,
    "not": _logic,
    "state": _state_condition,
    "numeric_state": _numeric_condition,
    "template": _template_condition,
    "time": _time_condition,
    "trigger": _trigger_condition,
    "sun": _sun_condition,
    "zone": _zone_condition,
}

__all__ = ["ConditionError", "compile_condition", "compile_conditions", "result_as_boolean", "timedelta"]
