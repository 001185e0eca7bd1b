"""`switch: - platform: template` (the legacy format; see legacy.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations.template import legacy

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.platforms import AddEntities

PLATFORM_SCHEMA = legacy.schema("switch", "switches")


async def setup_platform(hub: Hub, config: dict[str, Any], add_entities: AddEntities) -> None:
    """Add the platform's template switch entities."""
    await legacy.setup(hub, "switch", "switches", config, add_entities)
