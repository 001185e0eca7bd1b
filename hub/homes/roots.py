"""The MQTT topic roots of the homes this process serves or is starting now: `hub.runtime[TOPIC_ROOTS]()`.

A live view of the host's directory (HomeHost.live_roots): a root joins it when its home starts
(at the process's start, or added while it runs) and leaves it when its home leaves (removed,
suspended, its record changed: then its new root joins). The process's one MQTT connection
(integrations/mqtt/shared.py) receives the messages of every home at once, also those of a home
that has not started yet: it holds their acknowledgement back (the broker keeps them) when their
topic is under one of these roots, and drops what is under none.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from hub.core.runtime import HubKey

TopicRoots = Callable[[], Collection[str]]

TOPIC_ROOTS: HubKey[TopicRoots] = HubKey("homes.topic_roots")
