"""Trigger platforms: one module per family; integrations add more through a hook.

`attach(hub, config, action, info)` subscribes one trigger and returns its detach function
(or an awaitable of it). `action(payload, context=None)` fires it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from automations.config import InvalidConfig
from automations.triggers import calendar, event, numeric_state, state, sun, tag, template, time_triggers, webhook, zone
from hub.core.runtime import HubKey

if TYPE_CHECKING:
    from hub.core.context import Context
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

TriggerAction = Callable[..., Any]
Attach = Callable[..., Any]
Detach = Callable[[], None]
# What attach_triggers calls when a trigger fires: (trigger data, context, the trigger's variables).
Triggered = Callable[[dict[str, Any], "Context | None", "Mapping[str, Any] | None"], None]

BUILTIN: dict[str, Attach] = {
    "state": state.attach,
    "numeric_state": numeric_state.attach,
    "event": event.attach,
    "homeassistant": event.attach_homeassistant,
    "template": template.attach,
    "time": time_triggers.attach_time,
    "time_pattern": time_triggers.attach_time_pattern,
    "cron": time_triggers.attach_cron,
    "webhook": webhook.attach,
    "sun": sun.attach,
    "tag": tag.attach,
    "zone": zone.attach,
    "calendar": calendar.attach,
}
# `trigger: device` goes to the device triggers an integration offers as `device.<domain>`.
DEVICE_PLATFORM = "device"
VALIDATORS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "state": state.validate,
    "numeric_state": numeric_state.validate,
    "event": event.validate,
    "homeassistant": event.validate_homeassistant,
    "template": template.validate,
    "time": time_triggers.validate_time,
    "time_pattern": time_triggers.validate_time_pattern,
    "cron": time_triggers.validate_cron,
    "webhook": webhook.validate,
    "sun": sun.validate,
    "tag": tag.validate,
    "zone": zone.validate,
    "calendar": calendar.validate,
}
EXTRA_PLATFORMS: HubKey[dict[str, Attach]] = HubKey("automation.trigger_platforms")


def platforms(hub: Hub) -> dict[str, Attach]:
    """The built-in platforms plus those integrations offered (see `load_platforms`)."""
    extra = hub.runtime.get(EXTRA_PLATFORMS, {})
    return {**BUILTIN, DEVICE_PLATFORM: _attach_device, **extra}


def _device_domain(config: Mapping[str, Any]) -> str:
    domain = config.get("domain")
    if not isinstance(domain, str) or not domain:
        raise InvalidConfig("required key not provided: 'domain'", config, "domain")
    return domain


def _attach_device(hub: Hub, config: Mapping[str, Any], action: TriggerAction, info: dict[str, Any]) -> Any:
    """A device trigger: handed to the `device.<domain>` platform of the device's integration."""
    domain = _device_domain(config)
    attach = platforms(hub).get(f"{DEVICE_PLATFORM}.{domain}")
    if attach is None:
        message = f"no device triggers for domain {domain!r} (is its integration set up?)"
        raise InvalidConfig(message, config, "domain")
    return attach(hub, config, action, info)


async def load_platforms(hub: Hub) -> dict[str, Attach]:
    """Ask integrations for trigger platforms (the register_trigger_platforms hook)."""
    extra: dict[str, Attach] = {}
    plugins = getattr(hub, "plugins", None)
    if plugins is not None and hasattr(plugins.hook, "register_trigger_platforms"):
        for result in plugins.hook.register_trigger_platforms(hub=hub):
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, Mapping):
                extra.update(result)
    hub.runtime[EXTRA_PLATFORMS] = extra
    return extra


def validate_trigger(hub: Hub, config: Mapping[str, Any]) -> None:
    """Check one normalized trigger at load time.

    Raises:
        InvalidConfig: unknown platform or bad options.
    """
    platform = config.get("trigger")
    known = platforms(hub)
    if platform not in known or "." in str(platform):
        message = f"unknown trigger platform {platform!r} (available: {', '.join(sorted(p for p in known if '.' not in p))})"
        raise InvalidConfig(message, config, "trigger")
    validator = VALIDATORS.get(platform)
    if validator is not None:
        validator(config)
    if platform == DEVICE_PLATFORM:
        domain = _device_domain(config)
        if f"{DEVICE_PLATFORM}.{domain}" not in known:
            offered = sorted(name.partition(".")[2] for name in known if name.startswith(f"{DEVICE_PLATFORM}."))
            message = f"no device triggers for domain {domain!r} (available: {', '.join(offered) or 'none'})"
            raise InvalidConfig(message, config, "domain")


async def attach_triggers(
    hub: Hub,
    configs: list[Mapping[str, Any]],
    action: Triggered,
    info: dict[str, Any],
) -> Detach:
    """Attach every enabled trigger; the payload each fires gets id/idx/alias/platform added."""
    detaches: list[Detach] = []
    known = platforms(hub)
    for index, config in enumerate(configs):
        enabled = config.get("enabled", True)
        if isinstance(enabled, str):
            enabled = bool(info["render"](enabled))
        if enabled is False:
            continue
        platform = config["trigger"]
        base = {
            "id": str(config.get("id", index)),
            "idx": str(index),
            "alias": config.get("alias"),
            "platform": platform,
        }
        trigger_variables = config.get("variables")

        def fire(payload: dict[str, Any], context: Any = None, _base: dict[str, Any] = base, _vars: Any = trigger_variables) -> None:
            data = {**_base, **payload}
            action(data, context, _vars)

        attach = known.get(platform)
        if attach is None:
            _LOGGER.error("%s: trigger platform %r is not available", info.get("name"), platform)
            continue
        try:
            detach = attach(hub, {**config, "id": base["id"]}, fire, info)
            if inspect.isawaitable(detach):
                detach = await detach
        except Exception:  # noqa: BLE001 - one broken trigger must not stop the others
            _LOGGER.exception("%s: could not attach trigger %s", info.get("name"), base["idx"])
            continue
        if detach is not None:
            detaches.append(detach)

    def detach_all() -> None:
        for detach in detaches:
            try:
                result = detach()
                if inspect.isawaitable(result):
                    asyncio.ensure_future(result)
            except Exception:  # noqa: BLE001
                _LOGGER.exception("Error detaching a trigger")
        detaches.clear()

    return detach_all


async def wait_for_triggers(
    hub: Hub, configs: list[Mapping[str, Any]], info: dict[str, Any], timeout: float | None, clock: Any
) -> dict[str, Any] | None:
    """Wait until one of the triggers fires; return its trigger dict, or None on timeout."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[dict[str, Any] | None] = loop.create_future()

    def action(payload: dict[str, Any], context: Any = None, _vars: Any = None) -> None:
        if not future.done():
            future.set_result(payload)

    detach = await attach_triggers(hub, configs, action, info)
    cancel_timer = None
    if timeout is not None:
        def expire() -> None:
            if not future.done():
                future.set_result(None)

        cancel_timer = clock.call_later(timeout, expire)
    try:
        return await future
    finally:
        detach()
        if cancel_timer is not None:
            cancel_timer()


__all__ = ["Awaitable", "InvalidConfig", "attach_triggers", "load_platforms", "platforms", "validate_trigger", "wait_for_triggers"]
