"""A trigger-based template block: when a trigger fires (and its conditions pass), render its entities.

As Home Assistant does: the block's variables are rendered with `trigger`, the optional actions
run first (their variables, a `response_variable` among them, reach the templates), then every
entity renders its templates with those variables and writes its state.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from automations.conditions import compile_conditions, render_value
from automations.script import Script
from automations.triggers import attach_triggers, validate_trigger
from hub.core.context import Context
from hub.exceptions import HubError

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.core.hub import Hub
    from integrations.template.entities import TemplateMixin

_LOGGER = logging.getLogger(__name__)


class TriggerBlock:
    """The triggers, conditions, variables and actions of one block, and its entities."""

    def __init__(
        self,
        hub: Hub,
        triggers: Sequence[Mapping[str, Any]],
        conditions: Sequence[Mapping[str, Any]],
        actions: Sequence[Mapping[str, Any]],
        variables: Mapping[str, Any],
        entities: list[TemplateMixin],
    ) -> None:
        for trigger in triggers:
            validate_trigger(hub, trigger)
        self.hub = hub
        self.triggers = list(triggers)
        self.condition = compile_conditions(hub, list(conditions)) if conditions else None
        self.variables = variables
        self.entities = entities
        names = ", ".join(str(entity.name) for entity in entities) or "template"
        self.script = Script(hub, actions, name=names, domain="template", item_id=names, mode="parallel", max_runs=100) if actions else None
        self._detach: Callable[[], None] | None = None

    async def start(self) -> None:
        """Attach the triggers."""
        info = {"name": "template", "variables": {}, "render": lambda value: render_value(self.hub, value, {})}
        self._detach = await attach_triggers(self.hub, self.triggers, self._triggered, info)

    def stop(self) -> None:
        """Detach the triggers."""
        if self._detach is not None:
            self._detach()
            self._detach = None

    def _triggered(self, trigger: dict[str, Any], context: Context | None, trigger_variables: Any = None) -> None:
        values: dict[str, Any] = {"trigger": trigger}
        try:
            for scope in (trigger_variables, self.variables):
                for key, value in (scope or {}).items():
                    values[key] = render_value(self.hub, value, values)
        except HubError as err:
            _LOGGER.error("template trigger variables: %s", err)
            return
        if self.condition is not None and not self.condition(values, None):
            return
        run_context = Context(parent_id=context.id if context is not None else None)
        if self.script is None:
            self._render(values, run_context)
        else:
            self.hub.create_task(self._run_actions(values, run_context), "template trigger actions")

    async def _run_actions(self, values: dict[str, Any], context: Context) -> None:
        scope = dict(values)
        await self.script.run(scope, context) if self.script is not None else None
        self._render(scope, context)

    def _render(self, values: dict[str, Any], context: Context) -> None:
        for entity in self.entities:
            if entity.entity_id is None or self.hub.entities.get(entity.entity_id) is not entity:
                continue
            entity.render_all(entity.variables(values))
            entity.write_state(context)
