"""`default_config:`: what Home Assistant's default configuration sets up, of what this hub has.

Almost every Home Assistant configuration.yaml starts with it. It enables the recorder (history
in SQLite), sun, tag and zone, each with its default settings (manifest.json lists them); the
parts of HA's default set the hub does not have (assist, bluetooth, cloud, media, mobile_app,
person ...) are listed in docs/compatibility.md.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from hub import hookimpl

CONFIG_SCHEMA = vol.Any(None, vol.Schema({}))


@hookimpl
def setup_integration(hub: Any, config: Any) -> None:
    """Nothing of its own: its dependencies are set up before it."""
