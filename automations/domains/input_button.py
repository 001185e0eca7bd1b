"""The `input_button` integration: YAML configuration, services and restored state."""

from __future__ import annotations

from automations.input_integration import make_integration

CONFIG_SCHEMA, setup_integration, config_entity_ids = make_integration("input_button")
