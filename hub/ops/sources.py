"""Where operational figures live in the integrations: recorder, MQTT, automation traces.

Every lookup is lazy and tolerant: an integration that is not enabled (or not installed)
reads as absent, so /metrics and /readyz work for any configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.core.hub import Hub


def recorder_of(hub: Hub) -> Any:
    """Return the hub's recorder, or None when the recorder is not enabled."""
    if "recorder" not in hub.config.components:
        return None
    from hub.recorder import get_recorder  # noqa: PLC0415 - only when the recorder runs

    return get_recorder(hub)


def mqtt_client_of(hub: Hub) -> Any:
    """Return the MQTT integration's client, or None when MQTT is not enabled."""
    if "mqtt" not in hub.config.components:
        return None
    try:
        from integrations.mqtt import runtime_of  # noqa: PLC0415 - only when MQTT runs
    except ImportError:
        return None
    runtime = runtime_of(hub)
    return runtime.client if runtime is not None else None


def trace_outcomes_of(hub: Hub) -> dict[tuple[str, str], int]:
    """Return finished automation and script runs by (domain, outcome) since start."""
    # The trace store is created on first use by the automation engine; reading it here
    # must not create one.
    try:
        from automations.trace import TRACE_STORE  # noqa: PLC0415 - only when automations run
    except ImportError:
        return {}
    store = hub.runtime.get(TRACE_STORE)
    return dict(getattr(store, "outcomes", {}) or {})
