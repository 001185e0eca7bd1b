"""Stand-ins for MicroPython's `machine`, `network` and `umqtt.simple` under CPython."""

from __future__ import annotations

import sys


def install() -> None:
    """Register the shims under their MicroPython names (idempotent)."""
    from firmware.sim.shims import machine, network
    from firmware.sim.shims.umqtt import simple

    sys.modules.setdefault("machine", machine)
    sys.modules.setdefault("network", network)
    sys.modules.setdefault("umqtt", sys.modules["firmware.sim.shims.umqtt"])
    sys.modules.setdefault("umqtt.simple", simple)
