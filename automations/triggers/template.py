"""The template trigger: fires when the template turns true, re-rendering only on what it read."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from automations.conditions import result_as_boolean
from automations.config import InvalidConfig
from automations.triggers.duration import Pending, validate_for
from automations.triggers.tracker import TemplateTracker
from hub.exceptions import TemplateError
from hub.templating import Template

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)


def validate(config: Mapping[str, Any]) -> None:
    """value_template is a valid template; `for` a duration."""
    source = config.get("value_template")
    if not isinstance(source, str):
        raise InvalidConfig("required key not provided: 'value_template'", config, "value_template")
    try:
        Template(source).ensure_valid()
    except TemplateError as err:
        raise InvalidConfig(str(err), config, "value_template") from err
    validate_for(config)


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Fire on each false -> true transition of the template (after `for:` when given)."""
    template = Template(config["value_template"], hub)
    variables = dict(info.get("variables") or {})
    pending = Pending(hub, config, info.get("name", ""))
    state: dict[str, bool | None] = {"armed": None}

    def rendered(result: Any, error: Exception | None, event: Any) -> None:
        if error is not None:
            _LOGGER.warning("%s: template trigger failed: %s", info.get("name"), error)
            matched = False
        else:
            matched = result_as_boolean(result)
        previous = state["armed"]
        state["armed"] = not matched
        if not matched:
            pending.cancel("template")
            return
        if previous is not True:
            return  # still true, or true since the start: no transition
        data = event.data if event is not None else {}
        payload = {
            "entity_id": data.get("entity_id"),
            "from_state": data.get("old_state"),
            "to_state": data.get("new_state"),
            "for": None,
            "value": result,
            "description": "template",
        }
        pending.fire_now_or_after("template", payload, action, event.context if event is not None else None)

    tracker = TemplateTracker(hub, template, variables, rendered)
    tracker.start()

    def detach() -> None:
        tracker.stop()
        pending.cancel_all()

    return detach
