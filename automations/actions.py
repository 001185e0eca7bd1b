"""Action steps: each step config compiles once into an async function run with a scope.

Steps: action/service calls, delay, wait_template, wait_for_trigger, event, condition,
variables, choose, if/then/else, repeat (count/while/until/for_each), stop, parallel,
sequence. Every step honours `enabled: false` and `continue_on_error: true`, and writes its
result, timing and error into the run's trace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import ChainMap
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from automations.conditions import (
    ConditionError,
    compile_condition,
    compile_conditions,
    render_value,
    result_as_boolean,
)
from automations.config import InvalidConfig, ensure_list
from automations.timeutil import is_templated, to_timedelta
from automations.triggers import validate_trigger, wait_for_triggers
from automations.triggers.tracker import TemplateTracker
from hub.auth.audit import CONTROL_DOMAINS, describe_target
from hub.core.context import Context
from hub.core.runtime import HubKey
from hub.exceptions import HubError, TemplateError
from hub.templating import Template
from hub.util import slugify

if TYPE_CHECKING:
    from automations.script import Run
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
# (run name, step, missing entities) already warned about: the log says it once, traces always.
# Per hub: another home's automation of the same name must still get its warning.
WARNED_MISSING: HubKey[set[tuple[str, str, tuple[str, ...]]]] = HubKey("automation.warned_missing")

# The variables a run sees: each nested block (choose, repeat, parallel...) adds a child layer.
Scope = ChainMap[str, Any]
Step = Callable[["Run", Scope, str], Awaitable[None]]


class ConditionFailed(HubError):
    """A condition step was false: the current sequence block ends."""


class StopRun(HubError):
    """A stop step: the whole run ends (with an error when error: true)."""

    def __init__(self, reason: str, error: bool = False, response: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error
        self.response = response


class ActionError(HubError):
    """A step failed; the message names the step."""


# Mistakes in the script itself rather than failures at run time: continue_on_error does not
# skip them (as in Home Assistant), and the trace names their type.
_SCRIPT_MISTAKES = (InvalidConfig, ConditionError)


def compile_sequence(hub: Hub, configs: Sequence[Mapping[str, Any]], path: str) -> Callable[[Run, Scope, str], Awaitable[None]]:
    """Compile a sequence; running it stops at a failed condition step (this block only)."""
    steps = [compile_step(hub, config, f"{path}/{index}") for index, config in enumerate(configs)]

    async def run_sequence(run: Run, scope: Scope, prefix: str) -> None:
        for index, step in enumerate(steps):
            try:
                await step(run, scope, f"{prefix}/{index}")
            except ConditionFailed:
                return

    return run_sequence


# The key that names a step's kind, in the order they are looked for.
_STEP_KEYS = (
    "action", "delay", "wait_template", "wait_for_trigger", "event", "condition", "variables",
    "choose", "if", "repeat", "stop", "parallel", "sequence", "set_conversation_response",
)


def _kind(config: Mapping[str, Any]) -> str:
    for key in _STEP_KEYS:
        if key in config:
            return key
    if "device_id" in config and "domain" in config and "type" in config:
        return "device"
    raise InvalidConfig(f"unknown action: none of the known keys in {sorted(map(str, config))}", config)


def compile_step(hub: Hub, config: Mapping[str, Any], path: str) -> Step:
    """Compile one step.

    Raises:
        InvalidConfig: the step is malformed.
    """
    kind = _kind(config)
    body = _BUILDERS[kind](hub, config, path)
    if config.get("enabled", True) is False:
        async def disabled(run: Run, scope: Scope, step_path: str) -> None:
            run.trace.add(step_path, {"enabled": False})

        return disabled
    continue_on_error = config.get("continue_on_error", False) is True
    alias = config.get("alias")

    async def step(run: Run, scope: Scope, step_path: str) -> None:
        started = time.time()
        try:
            result = await body(run, scope, step_path)
        except (ConditionFailed, StopRun, asyncio.CancelledError):
            raise
        except Exception as err:  # noqa: BLE001 - recorded, then handled per continue_on_error
            recoverable = isinstance(err, HubError) and not isinstance(err, _SCRIPT_MISTAKES)
            message = str(err) if recoverable else f"{type(err).__name__}: {err}"
            run.trace.add(step_path, None, message, started)
            if continue_on_error and recoverable:
                _LOGGER.warning("%s: step %s failed, continuing: %s", run.name, alias or step_path, message)
                return
            raise ActionError(f"{alias or step_path}: {message}") from err
        run.trace.add(step_path, result, None, started)

    return step


def _render(hub: Hub, value: Any, scope: Scope) -> Any:
    return render_value(hub, value, scope)


def _call(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    action = config["action"]
    if not isinstance(action, str):
        raise InvalidConfig(f"expected 'domain.service' for 'action', got {action!r}", config, "action")
    action_template = Template(action, hub)
    if action_template.is_static and "." not in action:
        raise InvalidConfig(f"invalid action {action!r}: expected 'domain.service'", config, "action")
    data, target = config.get("data") or {}, config.get("target") or {}
    if not isinstance(target, (Mapping, str)):
        raise InvalidConfig(f"expected a mapping or a template for 'target', got {target!r}", config, "target")
    extra_target = {k: config[k] for k in ("entity_id", "device_id") if k in config}
    response_variable = config.get("response_variable")

    async def run_call(run: Run, scope: Scope, step_path: str) -> Any:
        name = action if action_template.is_static else str(action_template.render(dict(scope), parse_result=False))
        domain, _, service = name.partition(".")
        service_data = _render(hub, data, scope) if data else {}
        if not isinstance(service_data, Mapping):
            raise ActionError(f"data rendered to {service_data!r}, expected a mapping")
        call_target = _target(hub, target, extra_target, scope)
        audit = hub.auth.audit if hub.auth is not None and domain in CONTROL_DOMAINS else None
        try:
            response = await hub.services.call(
                domain,
                service,
                dict(service_data),
                target=call_target,
                context=run.context,
                blocking=True,
                return_response=response_variable is not None,
            )
        except Exception as err:
            if audit is not None:
                audit.record(None, "call_service", f"{name} {describe_target(service_data, call_target)}".strip(),
                             "error", user_name=run.actor, reason=str(err) or type(err).__name__, context=run.context)
            raise
        if audit is not None:
            # The control actions automations and schedules take, with the run's context (its
            # parent is what triggered the run).
            audit.record(None, "call_service", f"{name} {describe_target(service_data, call_target)}".strip(), "ok",
                         user_name=run.actor, context=run.context)
        if response_variable is not None:
            scope[response_variable] = response
        params = {"domain": domain, "service": service, "service_data": dict(service_data), "target": call_target}
        missing = _missing_entities(hub, service_data, call_target)
        if missing:
            # The call did nothing for these: say so in the trace every time, and in the log once
            # per step and set of entities (an automation that runs often must not flood it).
            key = (run.name, step_path, tuple(missing))
            warned = hub.runtime.setdefault(WARNED_MISSING, set)
            log = _LOGGER.debug if key in warned else _LOGGER.warning
            if len(warned) < 10_000:
                warned.add(key)
            log("%s: %s: referenced entities %s are missing or not currently available",
                run.name, step_path, ", ".join(missing))
        return {
            "params": params,
            "running_script": False,
            **({"missing_entities": missing} if missing else {}),
            **({"response": response} if response_variable else {}),
        }

    return run_call


def _missing_entities(hub: Hub, data: Mapping[str, Any], target: Mapping[str, Any] | None) -> list[str]:
    """The entity ids a call named that have no state (so the call could not reach them)."""
    named: list[Any] = []
    for source in (data, target or {}):
        value = source.get("entity_id")
        named.extend([value] if isinstance(value, str) else value or [])
    ids = [part.strip() for item in named if isinstance(item, str) for part in item.split(",")]
    return sorted({i for i in ids if i and i != "all" and hub.states.get(i) is None})


def _target(hub: Hub, target: Any, extra: Mapping[str, Any], scope: Scope) -> dict[str, Any] | None:
    """The rendered target of a call: a mapping, or a template (`target: "{{ target }}"`) rendering one."""
    if isinstance(target, str):
        target = _render(hub, target, scope)
        if target in (None, ""):
            target = {}
        if not isinstance(target, Mapping):
            raise ActionError(f"target rendered to {target!r}, expected a mapping such as {{'entity_id': 'light.kitchen'}}")
        target = dict(target)
    elif target:
        target = _render(hub, target, scope)
    if not target and not extra:
        return None
    return {**(target or {}), **_render(hub, dict(extra), scope)}


def _delay(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    value = config["delay"]
    if not is_templated(value):
        to_timedelta(value, node=config, key="delay")

    async def run_delay(run: Run, scope: Scope, step_path: str) -> Any:
        duration = to_timedelta(value, lambda v: _render(hub, v, scope), config, "delay")
        await run.clock.sleep(duration.total_seconds())
        return {"delay": duration.total_seconds(), "done": True}

    return run_delay


def _timeout(hub: Hub, config: Mapping[str, Any], scope: Scope) -> float | None:
    if config.get("timeout") is None:
        return None
    return to_timedelta(config["timeout"], lambda v: _render(hub, v, scope), config, "timeout").total_seconds()


def _wait_template(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    template = Template(config["wait_template"], hub)
    try:
        template.ensure_valid()
    except TemplateError as err:
        raise InvalidConfig(str(err), config, "wait_template") from err
    continue_on_timeout = config.get("continue_on_timeout", True)

    async def run_wait(run: Run, scope: Scope, step_path: str) -> Any:
        timeout = _timeout(hub, config, scope)
        started = run.clock.time()
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def rendered(result: Any, error: Exception | None, event: Any) -> None:
            if error is None and result_as_boolean(result) and not done.done():
                done.set_result(True)

        def timed_out() -> None:
            if not done.done():
                done.set_result(False)

        tracker = TemplateTracker(hub, template, dict(scope), rendered)
        tracker.start()
        cancel = run.clock.call_later(timeout, timed_out) if timeout is not None else None
        try:
            completed = await done
        finally:
            tracker.stop()
            if cancel is not None:
                cancel()
        remaining = None if timeout is None else max(0.0, timeout - (run.clock.time() - started))
        scope["wait"] = {"completed": completed, "remaining": timedelta(seconds=remaining) if remaining is not None else None, "trigger": None}
        if not completed and not continue_on_timeout:
            raise StopRun("wait_template timed out")
        return {"wait": {"completed": completed, "remaining": remaining}}

    return run_wait


def _wait_for_trigger(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    triggers = config["wait_for_trigger"]
    for trigger in triggers:
        validate_trigger(hub, trigger)
    continue_on_timeout = config.get("continue_on_timeout", True)

    async def run_wait(run: Run, scope: Scope, step_path: str) -> Any:
        timeout = _timeout(hub, config, scope)
        started = run.clock.time()
        variables = dict(scope)
        info = {"name": run.name, "variables": variables, "render": lambda v: render_value(hub, v, variables)}
        trigger = await wait_for_triggers(hub, triggers, info, timeout, run.clock)
        remaining = None if timeout is None else max(0.0, timeout - (run.clock.time() - started))
        left = timedelta(seconds=remaining) if remaining is not None else None
        scope["wait"] = {"completed": trigger is not None, "remaining": left, "trigger": trigger}
        if trigger is None and not continue_on_timeout:
            raise StopRun("wait_for_trigger timed out")
        return {"wait": {"completed": trigger is not None, "remaining": remaining}}

    return run_wait


def _event(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    async def run_event(run: Run, scope: Scope, step_path: str) -> Any:
        event_type = str(_render(hub, config["event"], scope))
        data = _render(hub, config.get("event_data") or {}, scope)
        hub.bus.fire(event_type, dict(data), context=run.context)
        return {"event": event_type, "event_data": data}

    return run_event


def _condition(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    check = compile_condition(hub, config)

    async def run_condition(run: Run, scope: Scope, step_path: str) -> Any:
        result = check(scope, None)
        run.trace.add(step_path, {"result": result})
        if not result:
            raise ConditionFailed
        return None

    return run_condition


def _variables(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    values = config["variables"]
    if not isinstance(values, Mapping):
        raise InvalidConfig("expected a mapping for 'variables'", config, "variables")

    async def run_variables(run: Run, scope: Scope, step_path: str) -> Any:
        changed = {}
        for key, value in values.items():
            changed[key] = scope[key] = _render(hub, value, scope)
        return {"variables": changed}

    return run_variables


def _choose(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    options = [
        (
            compile_conditions(hub, option["conditions"], f"{path}/choose/{i}/conditions"),
            compile_sequence(hub, option["sequence"], f"{path}/choose/{i}/sequence"),
        )
        for i, option in enumerate(config["choose"])
    ]
    default = compile_sequence(hub, config["default"], f"{path}/default") if "default" in config else None

    async def run_choose(run: Run, scope: Scope, step_path: str) -> Any:
        for index, (check, sequence) in enumerate(options):
            if check(scope, run.trace_condition(f"{step_path}/choose/{index}")):
                await sequence(run, scope.new_child(), f"{step_path}/choose/{index}/sequence")
                return {"choice": index}
        if default is not None:
            await default(run, scope.new_child(), f"{step_path}/default")
            return {"choice": "default"}
        return {"choice": None}

    return run_choose


def _if(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    check = compile_conditions(hub, config["if"], f"{path}/if")
    then = compile_sequence(hub, config.get("then", []), f"{path}/then")
    otherwise = compile_sequence(hub, config["else"], f"{path}/else") if "else" in config else None

    async def run_if(run: Run, scope: Scope, step_path: str) -> Any:
        if check(scope, run.trace_condition(f"{step_path}/if")):
            await then(run, scope.new_child(), f"{step_path}/then")
            return {"choice": "then"}
        if otherwise is not None:
            await otherwise(run, scope.new_child(), f"{step_path}/else")
            return {"choice": "else"}
        return {"choice": None}

    return run_if


def _repeat(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    repeat = config["repeat"]
    sequence = compile_sequence(hub, repeat["sequence"], f"{path}/repeat/sequence")
    while_check = compile_conditions(hub, repeat["while"]) if "while" in repeat else None
    until_check = compile_conditions(hub, repeat["until"]) if "until" in repeat else None
    if sum(k in repeat for k in ("count", "while", "until", "for_each")) != 1:
        raise InvalidConfig("repeat needs exactly one of count, while, until, for_each", repeat)

    async def run_repeat(run: Run, scope: Scope, step_path: str) -> Any:
        iterations = 0
        items: list[Any] | None = None
        count: int | None = None
        if "count" in repeat:
            count = int(float(_render(hub, repeat["count"], scope)))
        if "for_each" in repeat:
            rendered = _render(hub, repeat["for_each"], scope)
            items = list(rendered) if isinstance(rendered, (list, tuple)) else ensure_list(rendered)
        index = 0
        while True:
            index += 1
            info: dict[str, Any] = {"first": index == 1, "index": index}
            if count is not None:
                if index > count:
                    break
                info["last"] = index == count
            elif items is not None:
                if index > len(items):
                    break
                info["item"] = items[index - 1]
                info["last"] = index == len(items)
            child = scope.new_child({"repeat": info})
            if while_check is not None and not while_check(child, None):
                break
            await sequence(run, child, f"{step_path}/repeat/sequence")
            iterations += 1
            if until_check is not None and until_check(child, None):
                break
            await asyncio.sleep(0)  # let other work run between iterations
        return {"iterations": iterations}

    return run_repeat


def _stop(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    async def run_stop(run: Run, scope: Scope, step_path: str) -> Any:
        response = scope.get(config["response_variable"]) if config.get("response_variable") else None
        raise StopRun(str(config["stop"]), bool(config.get("error", False)), response)

    return run_stop


def _parallel(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    branches = []
    for index, branch in enumerate(config["parallel"]):
        if "sequence" in branch and len(branch) == 1:
            branches.append(compile_sequence(hub, branch["sequence"], f"{path}/parallel/{index}/sequence"))
        else:
            branches.append(compile_sequence(hub, [branch], f"{path}/parallel/{index}"))

    async def run_parallel(run: Run, scope: Scope, step_path: str) -> Any:
        await asyncio.gather(*(branch(run, scope.new_child(), f"{step_path}/parallel/{i}") for i, branch in enumerate(branches)))
        return {"branches": len(branches)}

    return run_parallel


def _sequence(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    sequence = compile_sequence(hub, config["sequence"], f"{path}/sequence")

    async def run_nested(run: Run, scope: Scope, step_path: str) -> Any:
        await sequence(run, scope.new_child(), f"{step_path}/sequence")

    return run_nested


def _device(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    """A device action (`domain`, `type`, `device_id`), as blueprints use for mobile_app notify.

    mobile_app notify becomes notify.mobile_app_<device name>; any other becomes the service
    <domain>.<type> with the remaining keys as data and the device as target.
    """
    domain, kind = str(config["domain"]), str(config["type"])
    extra = {k: v for k, v in config.items() if k not in ("domain", "type", "device_id", "alias", "enabled", "continue_on_error")}

    async def run_device(run: Run, scope: Scope, step_path: str) -> Any:
        device_id = _render(hub, config["device_id"], scope)
        data = _render(hub, extra, scope)
        if domain == "mobile_app" and kind == "notify":
            device = hub.device_registry.get(device_id) if hub.device_registry is not None else None
            name = (device.name_by_user or device.name) if device is not None else device_id
            service, target = ("notify", f"mobile_app_{slugify(name)}"), None
        else:
            service, target = (domain, kind), {"device_id": device_id}
        await hub.services.call(*service, dict(data), target=target, context=run.context, blocking=True)
        return {"params": {"domain": service[0], "service": service[1], "service_data": data}}

    return run_device


def _noop(hub: Hub, config: Mapping[str, Any], path: str) -> Any:
    async def run_noop(run: Run, scope: Scope, step_path: str) -> Any:
        return None

    return run_noop


_BUILDERS: dict[str, Callable[[Hub, Mapping[str, Any], str], Any]] = {
    "action": _call,
    "delay": _delay,
    "wait_template": _wait_template,
    "wait_for_trigger": _wait_for_trigger,
    "event": _event,
    "condition": _condition,
    "variables": _variables,
    "choose": _choose,
    "if": _if,
    "repeat": _repeat,
    "stop": _stop,
    "parallel": _parallel,
    "sequence": _sequence,
    "set_conversation_response": _noop,
    "device": _device,
}

__all__ = ["ActionError", "ConditionFailed", "Context", "StopRun", "compile_sequence", "compile_step"]
