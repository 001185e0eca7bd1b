"""The MQTT topic roots of every home this process serves or is starting: `hub.runtime[TOPIC_ROOTS]()`.

The process's one MQTT connection (integrations/mqtt/shared.py) receives the messages of every
home at once, also those of a home that has not started yet: it holds their acknowledgement
back (the broker keeps them) when their topic is under one of these roots, and drops what is
under none.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from hub.core.runtime import HubKey

TopicRoots = Callable[[], Collection[str]]

TOPIC_ROOTS: HubKey[TopicRoots] = HubKey("homes.topic_roots")
