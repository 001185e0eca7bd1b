"""One automation: its `automation.<id>` entity, its triggers, conditions and script."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automations.conditions import compile_conditions, render_value
from automations.config import InvalidConfig
from automations.script import DEFAULT_MAX, Script
from automations.trace import DEFAULT_STORED_TRACES
from automations.triggers import attach_triggers, validate_trigger
from hub.core.context import Context
from hub.core.entity import Entity
from hub.core.states import STATE_OFF, STATE_ON
from hub.exceptions import TemplateError
from hub.templating import TemplateState
from hub.util import slugify

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
EVENT_AUTOMATION_TRIGGERED = "automation_triggered"
EVENT_AUTOMATION_RELOADED = "automation_reloaded"


class AutomationEntity(Entity):
    """automation.<id>: on (listening to its triggers) or off."""

    domain = "automation"

    # Built for one hub, under an entity_id known from the start.
    hub: Hub
    entity_id: str
    # The YAML it was built from: a reload keeps an automation whose YAML is unchanged running.
    config_source: Any = None

    def __init__(self, hub: Hub, config: Mapping[str, Any], index: int) -> None:
        self.hub = hub
        self.config = config
        self.automation_id = str(config["id"]) if config.get("id") is not None else None
        self.name = str(config.get("alias") or self.automation_id or f"automation {index}")
        self.unique_id = self.automation_id
        self.entity_id = f"automation.{slugify(self.name)}"
        self.item_id = self.automation_id or self.entity_id.partition(".")[2]
        self.is_on = False
        self.last_triggered: Any = None
        self._detach: Any = None
        self._clock = hub.clock
        self._initial_state = config.get("initial_state")
        self._variables = config.get("variables") or {}
        self._trigger_variables = config.get("trigger_variables") or {}
        self._triggers = config["triggers"]
        for trigger in self._triggers:
            validate_trigger(hub, trigger)
        self._condition = compile_conditions(hub, config.get("conditions", [])) if config.get("conditions") else None
        trace_config = config.get("trace") or {}
        max_runs = config.get("max", DEFAULT_MAX)
        if not isinstance(max_runs, int) or max_runs < 1:
            raise InvalidConfig(f"expected a positive integer for 'max', got {max_runs!r}", config, "max")
        self.script = Script(
            hub,
            config["actions"],
            name=self.name,
            domain="automation",
            item_id=self.item_id,
            config=config,
            mode=config.get("mode", "single"),
            max_runs=max_runs,
            max_exceeded=config.get("max_exceeded", "warning"),
            stored_traces=int(trace_config.get("stored_traces", DEFAULT_STORED_TRACES)),
            on_change=self._script_changed,
        )

    def state_value(self) -> Any:
        """on while enabled."""
        return self.is_on

    def state_attributes(self) -> dict[str, Any]:
        """last_triggered, mode, current, id (and max for queued/parallel), friendly_name."""
        attrs: dict[str, Any] = {
            "id": self.automation_id,
            "last_triggered": self.last_triggered.isoformat() if hasattr(self.last_triggered, "isoformat") else self.last_triggered,
            "mode": self.script.mode,
            "current": self.script.runs,
        }
        if self.script.mode in ("queued", "parallel"):
            attrs["max"] = self.script.max_runs
        attrs["friendly_name"] = self.friendly_name
        return attrs

    async def added_to_hub(self) -> None:
        """Restore on/off and last_triggered, then attach the triggers if on."""
        restored = self.hub.states.get(self.entity_id)
        if self._initial_state is not None:
            enable = bool(self._initial_state)
        elif restored is not None and restored.state in (STATE_ON, STATE_OFF):
            enable = restored.state == STATE_ON
            self.last_triggered = restored.attributes.get("last_triggered")
        else:
            enable = True
        if enable:
            await self.turn_on(write=False)

    async def will_remove_from_hub(self) -> None:
        """Detach and stop the runs."""
        await self.turn_off(stop_actions=True, write=False)

    async def turn_on(self, write: bool = True, **kwargs: Any) -> None:
        """Attach the triggers."""
        if self.is_on:
            return
        self.is_on = True
        render_vars = self._render_trigger_variables()
        info = {
            "name": self.name,
            "variables": render_vars,
            "render": lambda value: render_value(self.hub, value, render_vars) if isinstance(value, (str, dict, list)) else value,
        }
        self._detach = await attach_triggers(self.hub, self._triggers, self._triggered, info)
        if write:
            self.write_state()

    async def turn_off(self, stop_actions: bool = True, write: bool = True, **kwargs: Any) -> None:
        """Detach the triggers (and stop running actions unless told not to)."""
        if self._detach is not None:
            self._detach()
            self._detach = None
        self.is_on = False
        if stop_actions:
            await self.script.stop()
        if write:
            self.write_state()

    async def toggle(self, **kwargs: Any) -> None:
        """Switch between on and off."""
        if self.is_on:
            await self.turn_off()
        else:
            await self.turn_on()

    def _render_trigger_variables(self) -> dict[str, Any]:
        try:
            from hub.templating import Template  # noqa: PLC0415

            result: dict[str, Any] = {}
            for key, value in self._trigger_variables.items():
                result[key] = Template(value, self.hub).render(result, limited=True) if isinstance(value, str) else value
            return result
        except TemplateError as err:
            _LOGGER.error("%s: trigger_variables: %s", self.name, err)
            return {}

    def _script_changed(self) -> None:
        if self.entity_id in self.hub.entities._entities:  # noqa: SLF001
            self.write_state()

    def _triggered(self, trigger: dict[str, Any], context: Context | None, trigger_vars: Any = None, skip_condition: bool = False) -> None:
        """Evaluate the conditions and start a run (called inline by the trigger)."""
        if not self.is_on and not skip_condition:
            return
        hub = self.hub
        state = hub.states.get(self.entity_id)
        this = TemplateState(hub, state) if state is not None else None
        variables: dict[str, Any] = {**self._render_trigger_variables(), "this": this, "trigger": trigger}
        run_context = Context(parent_id=context.id if context is not None else None, user_id=context.user_id if context is not None else None)
        trace = self.script.new_trace(run_context)
        trace.trigger_description = trigger.get("description")
        trace.add(f"trigger/{trigger.get('idx', 0)}", {"trigger": {k: v for k, v in trigger.items() if k not in ("from_state", "to_state", "event")}})
        try:
            for scope_values in (trigger_vars, self._variables):
                if scope_values:
                    for key, value in scope_values.items():
                        variables[key] = render_value(hub, value, variables)
        except TemplateError as err:
            _LOGGER.error("%s: variables: %s", self.name, err)
            trace.finished("error", str(err))
            self.script.traces.finished(trace)
            return
        if self._condition is not None and not skip_condition:
            if not self._condition(variables, lambda path, result: trace.add(path, result)):
                trace.finished("failed_conditions")
                self.script.traces.finished(trace)
                return
        self.last_triggered = self._clock.utcnow()
        triggered = {"name": self.name, "entity_id": self.entity_id, "source": trigger.get("description")}
        hub.bus.fire(EVENT_AUTOMATION_TRIGGERED, triggered, context=run_context)
        task = self.script.start(variables, run_context, trace)
        if task is None:
            self.write_state()

    async def trigger(self, variables: dict[str, Any] | None = None, skip_condition: bool = True, context: Context | None = None) -> None:
        """The automation.trigger service: run the actions now."""
        trigger = {"platform": None, "id": None, "idx": None, "description": "manual trigger", **(variables or {}).get("trigger", {})}
        self._triggered(trigger, context, (variables or {}), skip_condition=skip_condition)
