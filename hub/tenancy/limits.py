"""A home's plan enforced: feature gates, device and entity limits, messages per second.

Each check is one call from where the thing is created (the registries, the ONNX setup, the
MQTT receive path); a hub core without a plan (`hub.config.plan is None`, a single-home
install) is never limited and pays nothing: `apply(hub)` installs no check at all then.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hub.core.bus import EVENT_HUB_STARTED
from hub.core.runtime import HubKey
from hub.exceptions import HubError
from hub.registry.util import RegistryError
from hub.tenancy.plans import FEATURES, PLANS, PLANS_KEY, Plan, plan_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from prometheus_client.core import Metric

    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
WARN_EVERY = 60.0  # seconds between two warnings about dropped messages of one home


class PlanLimitError(HubError):
    """Something the home's plan does not allow; the message names the plan and the limit or feature."""

    def __init__(self, message: str, *, plan: str, limit: str, allowed: float | None = None) -> None:
        super().__init__(message)
        self.plan = plan
        self.limit = limit
        self.allowed = allowed

    def as_dict(self) -> dict[str, object]:
        """Return the error as a JSON body: message, plan, limit and what the plan allows."""
        return {"message": str(self), "plan": self.plan, "limit": self.limit, "allowed": self.allowed}


class RegistrationRefused(PlanLimitError, RegistryError):
    """The (n+1)th device or entity of a home whose plan allows n."""


def require_feature(hub: Hub, feature: str) -> None:
    """Raise unless the home's plan grants a feature (a home without a plan has every feature).

    Raises:
        PlanLimitError: the plan lacks the feature; the message names both.
    """
    plan = plan_of(hub)
    if plan is None or plan.allows(feature):
        return
    message = (
        f"The plan '{plan.name}' of home {hub.config.scope} does not include the feature '{feature}' "
        f"({FEATURES.get(feature, feature)}); a plan that does: "
        f"{', '.join(sorted(_plans_with(hub, feature))) or 'none'}"
    )
    raise PlanLimitError(message, plan=plan.name, limit=feature)


def _plans_with(hub: Hub, feature: str) -> list[str]:
    return [name for name, plan in (hub.runtime.get(PLANS_KEY) or PLANS).items() if plan.allows(feature)]


def _counter(hub: Hub, plan: Plan, what: str, allowed: int) -> Callable[[int], None]:
    def admit(current: int) -> None:
        if current >= allowed:
            message = (
                f"The plan '{plan.name}' allows {allowed} {what} per home; home {hub.config.scope} has {current}. "
                f"Remove some or move the tenant to a larger plan."
            )
            raise RegistrationRefused(message, plan=plan.name, limit=what, allowed=allowed)

    return admit


class MessageRate:
    """Count a home's incoming messages per second; over the plan's rate, drop and count them.

    `admit()` is the whole cost per message: a counter and a comparison of the whole second.
    """

    __slots__ = ("_clock", "_count", "_second", "_warned", "allowed", "dropped", "plan", "scope")

    def __init__(self, hub: Hub, plan: Plan, allowed: float) -> None:
        self._clock = hub.clock.time
        self.allowed = allowed
        self.plan = plan.name
        self.scope = str(hub.config.scope)
        self.dropped = 0  # since the hub core started
        self._second = -1
        self._count = 0
        self._warned = float("-inf")

    def admit(self) -> bool:
        """Return whether one more message fits this second; count it as dropped when not."""
        now = self._clock()
        second = int(now)
        if second != self._second:
            self._second, self._count = second, 0
        self._count += 1
        if self._count <= self.allowed:
            return True
        self.dropped += 1
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            _LOGGER.warning(
                "Home %s is over its plan '%s' limit of %g messages per second: readings are dropped "
                "(%d so far); this is logged at most once a minute",
                self.scope, self.plan, self.allowed, self.dropped,
            )
        return False


MESSAGE_RATE: HubKey[MessageRate] = HubKey("message_rate")


def message_rate(hub: Hub) -> MessageRate | None:
    """Return the home's message counter, or None when its plan (or its absence) sets no rate."""
    return hub.runtime.get(MESSAGE_RATE)


def apply(hub: Hub) -> None:
    """Install the plan's device, entity and message-rate checks on a hub core (nothing without a plan).

    Called once the registries exist (bootstrap's open_storage); the registries call the
    checks before they register something new.
    """
    plan = plan_of(hub)
    if plan is None:
        return
    limits = plan.limits
    if limits.devices is not None and hub.device_registry is not None:
        hub.device_registry.admit = _counter(hub, plan, "devices", limits.devices)
    if limits.entities is not None and hub.entity_registry is not None:
        hub.entity_registry.admit = _counter(hub, plan, "entities", limits.entities)
    if limits.messages_per_second is not None:
        hub.runtime[MESSAGE_RATE] = MessageRate(hub, plan, limits.messages_per_second)


def message_gate(hub: Hub, exempt_prefix: str) -> Callable[[Any], bool] | None:
    """Return the check a source runs per received message (True: handle it), or None for no limit.

    Messages under exempt_prefix (MQTT discovery configs, which define entities rather than
    report readings) always pass, uncounted.
    """
    rate = message_rate(hub)
    if rate is None:
        return None
    admit = rate.admit
    prefix = exempt_prefix.rstrip("/") + "/"

    def gate(message: Any) -> bool:
        return message.topic.startswith(prefix) or admit()

    return gate


def metrics(hub: Hub) -> list[Metric]:
    """Report the readings dropped over the plan's message rate (nothing for a home without a rate)."""
    rate = message_rate(hub)
    if rate is None:
        return []
    from prometheus_client.core import CounterMetricFamily  # noqa: PLC0415 - only when metrics are scraped

    dropped = CounterMetricFamily(
        "hub_plan_messages_dropped", "Readings dropped over the home's plan message rate.", labels=["home", "plan"]
    )
    dropped.add_metric([rate.scope, rate.plan], rate.dropped)
    return [dropped]


NOTIFICATION_ID = "plan_limit"


def notify(hub: Hub, err: PlanLimitError) -> None:
    """Tell the home's users by a persistent notification (one per limit) that the plan refused something.

    Before the hub core runs (an integration's setup), the notification waits for it to start,
    so that the notification integration is there to take it.
    """
    data = {
        "notification_id": f"{NOTIFICATION_ID}_{err.limit}",
        "title": f"Plan limit reached: {err.limit}",
        "message": str(err),
    }

    async def create(_event: object = None) -> None:
        if not hub.services.has_service("persistent_notification", "create"):
            return
        try:
            await hub.services.call("persistent_notification", "create", data)
        except HubError as failed:
            _LOGGER.warning("Could not create the plan limit notification: %s", failed)

    if hub.is_running:
        hub.create_task(create(), "plan limit notification")
    else:
        hub.bus.listen_once(EVENT_HUB_STARTED, create)
