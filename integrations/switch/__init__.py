"""The `switch:` section: a list of switch platforms (`- platform: template`, ...), as in Home Assistant.

See integrations/platforms.py for how a platform is found and set up.
"""

from __future__ import annotations

from integrations.platforms import CONFIG_SCHEMA, section_hooks

__all__ = ["CONFIG_SCHEMA", "LABELLED_SECTIONS"]

DOMAIN = "switch"
# `switch extra:` beside `switch:`: one list of platform items.
LABELLED_SECTIONS = "list"

check_integration_config, config_entity_ids, setup_integration = section_hooks(DOMAIN)
