"""Plans: what a tenant's homes may keep and do (history retention per tier, features, limits).

A hub core serves one home; `hub.config.plan` names its tenant's plan, and `plan_of(hub)` returns
it (None for a single-home install: no plan, no limits, retention as `recorder:` says). The four
built-in plans are below; a `plans:` mapping in YAML (nested by the multi-home configuration)
overrides their fields or adds plans of its own:

    plans:
      free:
        retention: {raw: 14d}          # the other tiers keep the built-in values
      campus:
        extends: professional          # a new plan starts from another (default: free)
        limits: {devices: 1000, entities: 10000, messages_per_second: 2000}
        features: [models]

Retention is a duration per tier ("30d", "12h", seconds) or null for unlimited; a limit is a
positive number or null for unlimited.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.core.runtime import HubKey
from hub.exceptions import HubError

if TYPE_CHECKING:
    from hub.core.hub import Hub

DAY = 86400.0
TIERS = ("raw", "five_minute", "hour", "day")
# Features a plan can grant; a gate names one of these.
FEATURES = {"models": "ONNX model sensors"}
LIMITS = ("devices", "entities", "messages_per_second")


class PlanError(HubError):
    """A plan that is not defined, or a `plans:` section that does not validate."""


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each history tier keeps a home's data, in seconds (None: for ever)."""

    raw: float | None
    five_minute: float | None
    hour: float | None
    day: float | None

    def as_dict(self) -> dict[str, float | None]:
        """Return {tier: seconds or None} in tier order."""
        return {tier: getattr(self, tier) for tier in TIERS}


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one home of the plan may have (None: no limit)."""

    devices: int | None
    entities: int | None
    messages_per_second: float | None


@dataclass(frozen=True, slots=True)
class Plan:
    """A tenant's plan: retention per tier, the features it grants, and its limits per home."""

    name: str
    retention: Retention
    limits: Limits
    features: frozenset[str] = field(default_factory=frozenset)

    def allows(self, feature: str) -> bool:
        """Return whether the plan grants a feature (a key of FEATURES)."""
        return feature in self.features


def _days(*values: float | None) -> Retention:
    raw, five, hour, day = (None if v is None else v * DAY for v in values)
    return Retention(raw, five, hour, day)


# Raw points are the costly tier (one row per reading): a plan keeps them at most 90 days and
# keeps its full history span in the downsampled tiers, which charts read for long ranges.
PLANS: dict[str, Plan] = {
    "free": Plan("free", _days(30, 30, 30, 30), Limits(10, 100, 20.0)),
    "starter": Plan("starter", _days(30, 90, 90, 90), Limits(50, 500, 100.0)),
    "professional": Plan("professional", _days(90, 365, 365, 365), Limits(250, 2500, 500.0), frozenset({"models"})),
    "industrial": Plan("industrial", _days(None, None, None, None), Limits(5000, 50000, 5000.0), frozenset({"models"})),
}


def _duration_or_none(value: Any) -> float | None:
    from hub.recorder.config import duration  # noqa: PLC0415 - hub.recorder imports this module

    return None if value is None else duration(value)


def _feature(value: Any) -> str:
    if value not in FEATURES:
        message = f"unknown feature {value!r}; known: {', '.join(sorted(FEATURES))}"
        raise vol.Invalid(message)
    return str(value)


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        message = f"expected a whole number of at least 1, or null for no limit, got {value!r}"
        raise vol.Invalid(message)
    return value


def _rate(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        message = f"expected a number above 0 (messages per second), or null for no limit, got {value!r}"
        raise vol.Invalid(message)
    return float(value)


_PLAN = vol.Schema(
    {
        vol.Optional("extends"): str,
        vol.Optional("retention"): vol.Schema({vol.Optional(tier): _duration_or_none for tier in TIERS}),
        vol.Optional("features"): [_feature],
        vol.Optional("limits"): vol.Schema(
            {vol.Optional("devices"): _count, vol.Optional("entities"): _count, vol.Optional("messages_per_second"): _rate}
        ),
    }
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _plan_name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        message = f"a plan name is lower-case letters, digits and _, starting with a letter, got {value!r}"
        raise vol.Invalid(message)
    return value


# The `plans:` mapping: plan name -> the fields that differ from the plan it extends.
PLANS_SCHEMA = vol.Schema(vol.All(vol.Any(None, {_plan_name: vol.Any(None, _PLAN)}), lambda v: v or {}))


def _build(name: str, fields: Mapping[str, Any], base: Plan) -> Plan:
    plan = replace(base, name=name)
    if "retention" in fields:
        plan = replace(plan, retention=replace(plan.retention, **fields["retention"]))
    if "limits" in fields:
        plan = replace(plan, limits=replace(plan.limits, **fields["limits"]))
    if "features" in fields:
        plan = replace(plan, features=frozenset(fields["features"]))
    return plan


def resolve_plans(section: Any) -> dict[str, Plan]:
    """Return every plan with a `plans:` section applied; raise vol.Invalid with the field's path.

    The configuration check (`plans:` of configuration.yaml) turns the path into the file and
    line of the field; plans_from_config into a PlanError naming it.
    """
    validated: dict[str, Any] = PLANS_SCHEMA(section)
    plans = dict(PLANS)
    pending = {name: fields or {} for name, fields in validated.items()}
    while pending:
        progressed = False
        for name, fields in list(pending.items()):
            parent = fields.get("extends") or (name if name in PLANS else "free")
            if parent != name and parent in pending:
                continue  # built once the plan it extends is
            if parent not in plans:
                message = f"no plan named {parent!r}; known: {', '.join(sorted(plans))}"
                raise vol.Invalid(message, [name, "extends"])
            plans[name] = _build(name, fields, plans[parent] if parent != name else PLANS[name])
            del pending[name]
            progressed = True
        if not progressed:
            message = f"{', '.join(sorted(pending))} extend each other in a circle"
            raise vol.Invalid(message)
    return plans


def plans_from_config(section: Any) -> dict[str, Plan]:
    """Return the built-in plans with a `plans:` section's overrides and additions applied.

    Args:
        section: the `plans:` mapping as written (validated here with PLANS_SCHEMA) or None.

    Returns:
        Every plan by name: the four built-in ones (overridden where the section says) and
        the section's own.

    Raises:
        PlanError: the section does not validate; the message names the field, e.g.
            `plans.free.limits.devices: expected a whole number ...`.
    """
    try:
        return resolve_plans(section)
    except vol.Invalid as err:
        path = ".".join(str(p) for p in ["plans", *err.path])
        message = f"{path}: {err.msg}"
        raise PlanError(message) from err


# The plans a multi-home process configured (`homes: plans:`); the built-in ones without it.
PLANS_KEY: HubKey[dict[str, Plan]] = HubKey("plans")


def use_plans(hub: Hub, plans: Mapping[str, Plan]) -> None:
    """Give a hub core the plans of its process (from plans_from_config), before it starts."""
    hub.runtime[PLANS_KEY] = dict(plans)


def retentions_of_plans(hub: Hub) -> dict[str, dict[str, float | None]]:
    """Return how long each plan of a hub's process keeps each tier ({plan: {tier: seconds or None}}).

    A history backend whose tables are shared by plans expires every plan's partitions with it,
    also those of a plan no home is on any more.
    """
    plans = hub.runtime.get(PLANS_KEY) or PLANS
    return {name: plan.retention.as_dict() for name, plan in plans.items()}


def plan_of(hub: Hub) -> Plan | None:
    """Return the plan of the home a hub core serves, or None (a single-home install: no plan).

    Raises:
        PlanError: `hub.config.plan` names a plan that is not defined.
    """
    name = hub.config.plan
    if name is None:
        return None
    plans = hub.runtime.get(PLANS_KEY) or PLANS
    plan = plans.get(name)
    if plan is None:
        message = f"home {hub.config.scope}: no plan named {name!r}; known: {', '.join(sorted(plans))}"
        raise PlanError(message)
    return plan
