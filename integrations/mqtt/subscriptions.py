"""Which handlers want which topics: exact topics by dict, wildcard filters by a cached match."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)

# A busy wildcard subscription (a `#` trigger) could see endless distinct topics; the match
# cache is dropped whole when it grows past this, which keeps it cheap and bounded.
_MATCH_CACHE_LIMIT = 20_000
# Only a topic that has this many wildcard filters to try is cached: matching one or two filters
# costs little more than the lookup, and every retained discovery config arrives on a topic of
# its own under one `prefix/#` filter (5,000 configs: ~0.7 MB of cache for topics seen once).
_CACHE_FROM_FILTERS = 4
# A handler that fails on a message: one warning line per topic a minute, the traceback at debug
# level (a broken payload is the device's problem, not a bug to fill the log with); the topics
# remembered for that are bounded.
_FAILURE_INTERVAL = 60.0
_FAILURE_TOPICS_LIMIT = 1024


class Message:
    """One received MQTT message; `payload` stays bytes so each subscriber decodes as it needs."""

    __slots__ = ("topic", "payload", "qos", "retain", "timestamp")

    def __init__(self, topic: str, payload: bytes, qos: int, retain: bool, timestamp: float) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.timestamp = timestamp

    def __repr__(self) -> str:
        return f"<Message {self.topic} qos={self.qos} retain={self.retain} {self.payload[:40]!r}>"


MessageHandler = Callable[[Message], None]


def valid_filter(topic_filter: str) -> bool:
    """Return whether topic_filter is a valid MQTT subscription filter."""
    if not topic_filter or "\0" in topic_filter or len(topic_filter.encode()) > 65535:
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def valid_publish_topic(topic: str) -> bool:
    """Return whether topic can be published to (no wildcards, not empty)."""
    return bool(topic) and "+" not in topic and "#" not in topic and "\0" not in topic


def matches(topic_filter: str, topic: str) -> bool:
    """Return whether topic matches the subscription filter (MQTT 3.1.1 rules)."""
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    # Topics starting with $ are not matched by a leading wildcard (MQTT 4.7.2).
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


class _Entry:
    """One handler of a filter, and the undo of its `Subscriptions.add`: one slotted object, not two
    (thousands of entities hold a few each)."""

    __slots__ = ("topic_filter", "handler", "qos", "_owner")

    def __init__(self, owner: Subscriptions, topic_filter: str, handler: MessageHandler, qos: int) -> None:
        self._owner = owner
        self.topic_filter = topic_filter
        self.handler = handler
        self.qos = qos

    def __call__(self) -> bool:
        """Remove the handler; return whether its filter is now unused."""
        return self._owner._remove(self)


def _root(topic_filter: str) -> str:
    """The first level of a filter ("+" or "#" when it starts with a wildcard)."""
    return topic_filter.partition("/")[0]


class Subscriptions:
    """The table from topic filters to handlers, with the broker-side filters and their QoS.

    Each subscribed exact topic maps straight to every handler it reaches (its own and those of
    the wildcard filters that match it), rebuilt when they change: one dict lookup per message.
    Wildcard filters are grouped by their first level, and only topics some wildcard filter could
    match are cached: with thousands of discovered entities the table costs one entry per
    subscribed topic, not one per topic ever received.
    """

    def __init__(self) -> None:
        self._exact: dict[str, list[_Entry]] = {}
        self._resolved: dict[str, tuple[MessageHandler, ...]] = {}  # exact topic -> every handler
        self._wildcards: dict[str, list[_Entry]] = {}
        self._wild_roots: dict[str, list[str]] = {}  # first level -> wildcard filters under it
        self._wild_any: list[str] = []  # filters that start with + or #
        self._match_cache: dict[str, tuple[MessageHandler, ...]] = {}  # other topics, wildcards only
        self._failed_at: dict[str, float] = {}  # topic -> time.monotonic() of its last warning

    def add(self, topic_filter: str, handler: MessageHandler, qos: int = 0) -> Callable[[], bool]:
        """Add a handler for a filter; return the undo, which says if the filter is now unused."""
        entry = _Entry(self, topic_filter, handler, qos)
        if "+" in topic_filter or "#" in topic_filter:
            entries = self._wildcards.get(topic_filter)
            if entries is None:
                entries = self._wildcards[topic_filter] = []
                root = _root(topic_filter)
                if root in ("+", "#"):
                    self._wild_any.append(topic_filter)
                else:
                    self._wild_roots.setdefault(root, []).append(topic_filter)
            entries.append(entry)
            self._wildcard_changed(topic_filter)
        else:
            self._exact.setdefault(topic_filter, []).append(entry)
            self._resolve(topic_filter)
        return entry

    def _remove(self, entry: _Entry) -> bool:
        topic_filter = entry.topic_filter
        wildcard = "+" in topic_filter or "#" in topic_filter
        table = self._wildcards if wildcard else self._exact
        entries = table.get(topic_filter)
        if entries is None or entry not in entries:
            return False
        entries.remove(entry)
        if not entries:
            del table[topic_filter]
            if wildcard:
                root = _root(topic_filter)
                filters = self._wild_any if root in ("+", "#") else self._wild_roots[root]
                filters.remove(topic_filter)
                if not filters and root not in ("+", "#"):
                    del self._wild_roots[root]
        if wildcard:
            self._wildcard_changed(topic_filter)
        else:
            self._resolve(topic_filter)
        return not entries

    def _resolve(self, topic: str) -> None:
        """Rebuild the handlers an exact topic reaches."""
        entries = self._exact.get(topic)
        if entries:
            self._resolved[topic] = tuple(entry.handler for entry in entries) + self._wildcard_handlers(topic)
        else:
            self._resolved.pop(topic, None)

    def _wildcard_changed(self, topic_filter: str) -> None:
        self._match_cache.clear()
        for topic in self._exact:
            if matches(topic_filter, topic):
                self._resolve(topic)

    def _wildcard_handlers(self, topic: str) -> tuple[MessageHandler, ...]:
        candidates = self._wild_roots.get(_root(topic))
        if candidates is None and not self._wild_any:
            return ()
        return tuple(
            entry.handler
            for topic_filter in (*(candidates or ()), *self._wild_any)
            if matches(topic_filter, topic)
            for entry in self._wildcards[topic_filter]
        )

    def filters(self) -> dict[str, int]:
        """Return every filter with the highest QoS any of its handlers asked for."""
        result: dict[str, int] = {}
        for table in (self._exact, self._wildcards):
            for topic_filter, entries in table.items():
                result[topic_filter] = max(entry.qos for entry in entries)
        return result

    def qos_of(self, topic_filter: str) -> int | None:
        """Return the QoS a filter needs, or None if nobody subscribes to it."""
        entries = self._exact.get(topic_filter) or self._wildcards.get(topic_filter)
        return None if not entries else max(entry.qos for entry in entries)

    def handlers_for(self, topic: str) -> tuple[MessageHandler, ...]:
        """Return the handlers for a received topic."""
        found = self._resolved.get(topic)
        if found is not None:
            return found
        found = self._match_cache.get(topic)
        if found is not None:
            return found
        found = self._wildcard_handlers(topic)
        if found and len(self._wild_roots.get(_root(topic), ())) + len(self._wild_any) >= _CACHE_FROM_FILTERS:
            if len(self._match_cache) >= _MATCH_CACHE_LIMIT:
                self._match_cache.clear()
            self._match_cache[topic] = found
        return found

    def dispatch(self, message: Message) -> None:
        """Run every handler for the message inline; a failing handler is logged, not fatal."""
        for handler in self.handlers_for(message.topic):
            try:
                handler(message)
            except Exception as err:  # noqa: BLE001 - one bad handler must not stop the others
                self._failed(message, err)

    def _failed(self, message: Message, err: Exception) -> None:
        now = time.monotonic()
        last = self._failed_at.get(message.topic)
        if last is not None and now - last < _FAILURE_INTERVAL:
            _LOGGER.debug("Error handling MQTT message on %s", message.topic, exc_info=err)
            return
        if len(self._failed_at) >= _FAILURE_TOPICS_LIMIT:
            self._failed_at.clear()
        self._failed_at[message.topic] = now
        _LOGGER.warning(
            "Cannot handle the MQTT message on %s (%d bytes): %s: %.200s; the entity keeps its last state",
            message.topic, len(message.payload), type(err).__name__, err,
        )
        _LOGGER.debug("Error handling MQTT message on %s", message.topic, exc_info=err)
