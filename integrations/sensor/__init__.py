"""The `sensor:` section: a list of sensor platforms (`- platform: template`, ...), as in Home Assistant.

See integrations/platforms.py for how a platform is found and set up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub import hookimpl
from integrations.platforms import CONFIG_SCHEMA, check_platforms, platform_entity_ids, setup_platforms

if TYPE_CHECKING:
    from hub.config import ConfigIssue
    from hub.core.hub import Hub

__all__ = ["CONFIG_SCHEMA", "LABELLED_SECTIONS"]

DOMAIN = "sensor"
# `sensor extra:` beside `sensor:`: one list of platform items.
LABELLED_SECTIONS = "list"


@hookimpl
def check_integration_config(hub: Hub, config: Any) -> list[ConfigIssue]:
    """Validate each platform item with its platform's schema."""
    return check_platforms(hub, DOMAIN, config)


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """The entities the platform items make (patterns where a platform names them at run time)."""
    return platform_entity_ids(DOMAIN, config)


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Set up each platform item (a bad one is logged and skipped)."""
    await setup_platforms(hub, DOMAIN, config)
