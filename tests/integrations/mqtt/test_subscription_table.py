"""The subscription table: exact topics and wildcard filters, what a received topic reaches."""

from __future__ import annotations

from integrations.mqtt.subscriptions import _MATCH_CACHE_LIMIT, Message, Subscriptions


def _message(topic: str) -> Message:
    return Message(topic, b"1", 0, False, 0.0)


def test_topics_reach_their_exact_and_wildcard_handlers_and_removal_undoes_each():
    table = Subscriptions()
    seen: list[tuple[str, str]] = []

    def handler(name: str):
        return lambda message: seen.append((name, message.topic))

    undo_exact = table.add("home/a/state", handler("exact"), 1)
    undo_plus = table.add("home/+/state", handler("plus"), 0)
    undo_hash = table.add("#", handler("hash"), 0)
    table.add("other/#", handler("other"), 2)
    table.dispatch(_message("home/a/state"))
    table.dispatch(_message("home/b/state"))
    table.dispatch(_message("other/x/y"))
    table.dispatch(_message("$SYS/broker"))  # a leading wildcard never matches $ topics
    assert seen == [("exact", "home/a/state"), ("plus", "home/a/state"), ("hash", "home/a/state"),
                    ("plus", "home/b/state"), ("hash", "home/b/state"), ("other", "other/x/y"), ("hash", "other/x/y")]
    assert table.filters() == {"home/a/state": 1, "home/+/state": 0, "#": 0, "other/#": 2}

    seen.clear()
    assert undo_hash() is True
    assert undo_plus() is True
    table.dispatch(_message("home/a/state"))
    table.dispatch(_message("home/b/state"))
    assert seen == [("exact", "home/a/state")]
    assert undo_exact() is True
    assert undo_exact() is False  # twice is harmless
    assert table.handlers_for("home/a/state") == ()
    assert table.qos_of("home/a/state") is None


def test_topics_no_wildcard_can_match_are_not_cached():
    """Thousands of state topics received: the table stays one entry per subscribed topic."""
    table = Subscriptions()
    table.add("homeassistant/+/+/config", lambda message: None)
    for n in range(5000):
        table.add(f"devices/n{n}/power", lambda message: None)
    for n in range(5000):
        assert len(table.handlers_for(f"devices/n{n}/power")) == 1
        assert table.handlers_for(f"garbage/{n}") == ()
    assert len(table.handlers_for("homeassistant/sensor/x/config")) == 1
    # Nor a topic one wildcard filter matches: every retained discovery config has a topic of its
    # own, seen once, and matching one filter costs about what the lookup does.
    assert table._match_cache == {}


def test_topics_many_wildcard_filters_match_are_cached_and_the_cache_is_bounded():
    table = Subscriptions()
    handlers = [lambda message: None for _ in range(4)]
    for n, handler in enumerate(handlers):
        table.add(f"tele/+/SENSOR{n}" if n else "tele/#", handler)
    assert table.handlers_for("tele/plug1/SENSOR1") == (handlers[0], handlers[1])
    assert list(table._match_cache) == ["tele/plug1/SENSOR1"]
    for n in range(_MATCH_CACHE_LIMIT + 10):
        table.handlers_for(f"tele/plug{n}/SENSOR2")
    assert 0 < len(table._match_cache) <= _MATCH_CACHE_LIMIT
